// User-facing errors: the CLI prints what() on one line and exits non-zero.
#pragma once
#include <stdexcept>
#include <string>

namespace ft {

struct Error : std::runtime_error {
  using std::runtime_error::runtime_error;
};

}  // namespace ft
