// Messages for the user on stderr; stdout stays clean for results (JSON, tables).
#pragma once
#include <string>

namespace ft {

void warn(const std::string& msg);
void info(const std::string& msg);
// --quiet silences info() (warnings still print).
void set_quiet(bool quiet);

}  // namespace ft
