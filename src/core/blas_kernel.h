// OpenBLAS picks its kernels once, when it loads, from the CPU it recognises: on a CPU newer than the
// OpenBLAS release (Debian's 0.3.21 on a 2023 Xeon) it falls back to its SSE3 "Prescott" kernels,
// about 5x slower, and says nothing. This checks the choice before any work and corrects it.
#pragma once
#include <optional>
#include <string>
#include <vector>

namespace ft {

// The kernel set OpenBLAS names for the best instructions among `isa` (/proc/cpuinfo flag names) of a
// CPU from `vendor` ("GenuineIntel", "AuthenticAMD"), if `chosen` is older than it; else nothing.
std::optional<std::string> better_openblas_kernel(const std::string& chosen, const std::vector<std::string>& isa,
                                                  const std::string& vendor);

// When this process's OpenBLAS runs older kernels than the CPU supports, re-executes the program once
// with OPENBLAS_CORETYPE set to the better ones (FT_BLAS_KERNEL_FROM tells the new process what it was
// corrected from). A user's own OPENBLAS_CORETYPE is kept (some machines set it because newer kernels
// misbehave there) unless FT_BLAS_KERNEL=auto. Returns normally when nothing is to be done.
void ensure_best_blas_kernel(char** argv);

}  // namespace ft
