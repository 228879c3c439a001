// Process-wide runtime settings: thread count and device choice.
#pragma once
#include <string>

namespace ft {

// Sets libtorch's intra-op thread count; n <= 0 means all cores (libtorch starts with 1 here).
void set_threads(int n);
int num_threads();

// "auto" | "cpu" | "cuda" → "cpu" or "cuda"; errors if cuda is asked for but absent.
std::string resolve_device(const std::string& requested);

}  // namespace ft
