#include "core/blas_kernel.h"

#include <dlfcn.h>
#include <unistd.h>

#include <cstdlib>
#include <iostream>
#include <map>

namespace ft {
namespace {

// What each OpenBLAS x86 kernel set needs, by generation: 0 SSE only, 1 AVX, 2 AVX2, 3 AVX-512.
int generation(const std::string& core) {
  static const std::map<std::string, int> kLevels = {
      {"Sandybridge", 1}, {"Bulldozer", 1}, {"Piledriver", 1}, {"Steamroller", 1}, {"Excavator", 1},
      {"Haswell", 2},     {"Zen", 2},       {"SkylakeX", 3},   {"Cooperlake", 3}, {"SapphireRapids", 3}};
  const auto it = kLevels.find(core);
  return it == kLevels.end() ? 0 : it->second;  // Prescott, Core2, Penryn, Nehalem, Atom, Barcelona...
}

}  // namespace

std::optional<std::string> openblas_kernel() {
  using NameFn = char* (*)();
  const auto corename = reinterpret_cast<NameFn>(dlsym(RTLD_DEFAULT, "openblas_get_corename"));
  if (!corename) return std::nullopt;
  return std::string(corename());
}

std::optional<std::string> better_openblas_kernel(const std::string& chosen, const CpuInfo& cpu) {
  std::string best;
  if (cpu.has("avx512f") && cpu.has("avx512bw") && cpu.has("avx512vl") && cpu.has("avx512dq")) best = "SkylakeX";
  else if (cpu.has("avx2") && cpu.has("fma")) best = cpu.vendor == "AuthenticAMD" ? "Zen" : "Haswell";
  else if (cpu.has("avx")) best = "Sandybridge";
  if (best.empty() || generation(chosen) >= generation(best)) return std::nullopt;
  return best;
}

void ensure_best_blas_kernel(char** argv) {
  const char* policy_env = std::getenv("FT_BLAS_KERNEL");
  const std::string policy = policy_env ? policy_env : "";
  if (!policy.empty() && policy != "auto" && policy != "keep") {
    std::cerr << "error: FT_BLAS_KERNEL=" << policy << ": expected auto or keep\n";
    std::exit(2);
  }
  const auto chosen = openblas_kernel();
  if (!chosen || policy == "keep" || std::getenv("FT_BLAS_KERNEL_FROM")) return;  // not OpenBLAS, or already corrected
  if (std::getenv("OPENBLAS_CORETYPE") && policy != "auto") return;
  const auto better = better_openblas_kernel(*chosen, read_cpuinfo());
  if (!better) return;
  // The kernels are chosen when the library loads, before main: only a new process can change them.
  setenv("OPENBLAS_CORETYPE", better->c_str(), 1);
  setenv("FT_BLAS_KERNEL_FROM", chosen->c_str(), 1);
  if (isatty(STDERR_FILENO))
    std::cerr << "finetune: OpenBLAS chose its " << *chosen << " kernels on a CPU that runs " << *better
              << "'s; restarting with OPENBLAS_CORETYPE=" << *better << "\n";
  execv("/proc/self/exe", argv);
  // exec failed (no /proc): carry on with the slower kernels rather than not at all.
  unsetenv("FT_BLAS_KERNEL_FROM");
}

}  // namespace ft
