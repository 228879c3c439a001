// A string as one word of a POSIX shell command line (single-quoted; a quote inside becomes '\'').
#pragma once
#include <string>

namespace ft {

inline std::string shell_quote(const std::string& s) {
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

}  // namespace ft
