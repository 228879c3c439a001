#include "core/blas_kernel.h"

#include <dlfcn.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <map>
#include <sstream>

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

std::pair<std::vector<std::string>, std::string> cpu_flags_and_vendor() {
  std::ifstream in("/proc/cpuinfo");
  std::vector<std::string> flags;
  std::string vendor;
  for (std::string line; std::getline(in, line);) {
    const auto colon = line.find(':');
    if (colon == std::string::npos) continue;
    const std::string key = line.substr(0, line.find_first_of(" \t"));
    const std::string value = colon + 2 <= line.size() ? line.substr(colon + 2) : "";
    if (key == "vendor_id" && vendor.empty()) vendor = value;
    if (key == "flags" && flags.empty()) {
      std::istringstream words(value);
      for (std::string w; words >> w;) flags.push_back(w);
    }
    if (!vendor.empty() && !flags.empty()) break;
  }
  return {flags, vendor};
}

}  // namespace

std::optional<std::string> better_openblas_kernel(const std::string& chosen, const std::vector<std::string>& isa,
                                                  const std::string& vendor) {
  auto has = [&](const char* f) { return std::find(isa.begin(), isa.end(), f) != isa.end(); };
  std::string best;
  if (has("avx512f") && has("avx512bw") && has("avx512vl") && has("avx512dq")) best = "SkylakeX";
  else if (has("avx2") && has("fma")) best = vendor == "AuthenticAMD" ? "Zen" : "Haswell";
  else if (has("avx")) best = "Sandybridge";
  if (best.empty() || generation(chosen) >= generation(best)) return std::nullopt;
  return best;
}

void ensure_best_blas_kernel(char** argv) {
  using NameFn = char* (*)();
  const auto corename = reinterpret_cast<NameFn>(dlsym(RTLD_DEFAULT, "openblas_get_corename"));
  if (!corename || std::getenv("FT_BLAS_KERNEL_FROM")) return;  // not OpenBLAS, or already corrected
  const char* policy = std::getenv("FT_BLAS_KERNEL");
  const bool auto_choice = policy && std::string(policy) == "auto";
  if (std::getenv("OPENBLAS_CORETYPE") && !auto_choice) return;
  const std::string chosen = corename();
  const auto [isa, vendor] = cpu_flags_and_vendor();
  const auto better = better_openblas_kernel(chosen, isa, vendor);
  if (!better) return;
  // The kernels are chosen when the library loads, before main: only a new process can change them.
  setenv("OPENBLAS_CORETYPE", better->c_str(), 1);
  setenv("FT_BLAS_KERNEL_FROM", chosen.c_str(), 1);
  if (isatty(STDERR_FILENO))
    std::cerr << "finetune: OpenBLAS chose its " << chosen << " kernels on a CPU that runs " << *better
              << "'s; restarting with OPENBLAS_CORETYPE=" << *better << "\n";
  execv("/proc/self/exe", argv);
  // exec failed (no /proc): carry on with the slower kernels rather than not at all.
  unsetenv("FT_BLAS_KERNEL_FROM");
}

}  // namespace ft
