#include "core/log.h"

#include <iostream>

namespace ft {
namespace {
bool g_quiet = false;
}

void warn(const std::string& msg) { std::cerr << "warning: " << msg << std::endl; }
void info(const std::string& msg) {
  if (!g_quiet) std::cerr << msg << std::endl;
}
void set_quiet(bool quiet) { g_quiet = quiet; }
bool quiet() { return g_quiet; }

}  // namespace ft
