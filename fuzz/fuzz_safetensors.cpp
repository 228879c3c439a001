// Safetensors reader on arbitrary bytes: each input is a whole file. The contract is a TensorMap
// or an ft::Error; anything else (another exception, a sanitizer report) is a finding.
#include <cstddef>
#include <cstdint>
#include <sstream>

#include "core/error.h"
#include "io/state_dict.h"

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  torch::set_num_threads(1);
  // Every libtorch error would otherwise symbolize a stack trace, which costs milliseconds.
  c10::SetStackTraceFetcher([] { return std::string(); });
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::istringstream in(std::string(reinterpret_cast<const char*>(data), size), std::ios::binary);
  try {
    for (const auto& [name, t] : ft::io::read_safetensors(in, "fuzz.safetensors"))
      if (!t.is_contiguous() || t.device() != torch::kCPU) __builtin_trap();
  } catch (const ft::Error&) {
  }
  return 0;
}
