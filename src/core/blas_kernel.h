// OpenBLAS picks its kernels once, when it loads, from the CPU it recognises: on a CPU newer than the
// OpenBLAS release (Debian's 0.3.21 on a 2023 Xeon) it falls back to its SSE3 "Prescott" kernels,
// about 5x slower, and says nothing. This checks the choice before any work and corrects it.
#pragma once
#include <optional>
#include <string>

#include "core/cpuinfo.h"

namespace ft {

// The kernel set this process's OpenBLAS runs ("Zen", "Prescott"); nothing when libtorch's BLAS is
// not OpenBLAS (pip's libtorch links MKL).
std::optional<std::string> openblas_kernel();

// The kernel set OpenBLAS names for the best instructions of `cpu`, if `chosen` is older than it;
// else nothing.
std::optional<std::string> better_openblas_kernel(const std::string& chosen, const CpuInfo& cpu);

// When this process's OpenBLAS runs older kernels than the CPU supports, re-executes the program once
// with OPENBLAS_CORETYPE set to the better ones (FT_BLAS_KERNEL_FROM tells the new process what it was
// corrected from). A user's own OPENBLAS_CORETYPE is kept (some machines set it because newer kernels
// misbehave there) unless FT_BLAS_KERNEL=auto; FT_BLAS_KERNEL=keep never corrects; any other value is
// a one-line error and exit 2. Returns normally when nothing is to be done.
void ensure_best_blas_kernel(char** argv);

}  // namespace ft
