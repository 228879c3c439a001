// Messages for the user on stderr; stdout stays clean for results (JSON, tables).
#pragma once
#include <string>

namespace ft {

void warn(const std::string& msg);
void info(const std::string& msg);
// --quiet silences info() and the progress bar (warnings still print); so do data-parallel ranks but 0.
void set_quiet(bool quiet);
bool quiet();

}  // namespace ft
