// The CPU as /proc/cpuinfo describes its first core: what the BLAS kernel choice and `finetune env`
// read. Empty fields where the file is absent (not Linux) or lacks them.
#pragma once
#include <string>
#include <vector>

namespace ft {

struct CpuInfo {
  std::string model, vendor;        // "model name", "vendor_id" ("GenuineIntel", "AuthenticAMD")
  double mhz = 0;                   // the current clock, not the nominal one
  std::vector<std::string> flags;   // "flags": avx2, avx512f, amx_bf16, ...

  bool has(const std::string& flag) const;
};

CpuInfo read_cpuinfo();

}  // namespace ft
