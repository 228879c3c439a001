#include "report/format.h"

#include <cmath>
#include <cstdio>

namespace ft::report {

std::string format_count(int64_t n) {
  const std::string digits = std::to_string(n < 0 ? -n : n);
  std::string out;
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i && (digits.size() - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return (n < 0 ? "-" : "") + out;
}

std::string format_fixed(double value, int decimals) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", decimals, value);
  return buf;
}

std::string format_bytes(double bytes) {
  static const char* const units[] = {"B", "kB", "MB", "GB", "TB"};
  int u = 0;
  double v = bytes;
  while (std::fabs(v) >= 1000 && u < 4) {
    v /= 1000;
    ++u;
  }
  return (u == 0 ? format_fixed(v, 0) : format_fixed(v, 1)) + " " + units[u];
}

std::string format_duration(double seconds) {
  if (seconds < 60) return format_fixed(seconds, 1) + "s";
  const long total = std::lround(seconds);
  char buf[64];
  if (total < 3600) {
    std::snprintf(buf, sizeof buf, "%ldm %02lds", total / 60, total % 60);
  } else {
    std::snprintf(buf, sizeof buf, "%ldh %02ldm", total / 3600, (total % 3600) / 60);
  }
  return buf;
}

std::string format_percent(double percent, int decimals) { return format_fixed(percent, decimals) + "%"; }

std::string format_points(double fraction) {
  std::string s = format_fixed(100 * fraction, 2);
  if (s.size() > 1 && s.back() == '0' && s[s.size() - 2] != '.') s.pop_back();
  return s;
}

std::string format_p_value(double p) {
  if (p >= 1e-4 || p == 0) return format_fixed(p, 4);
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1e", p);
  return buf;
}

}  // namespace ft::report
