// torch.save reader (zip archive + pickle, through libtorch's unpickler) on arbitrary bytes: each
// input is a whole .bin file. The contract is a TensorMap or an ft::Error.
#include <cstddef>
#include <cstdint>
#include <vector>

#include "core/error.h"
#include "io/state_dict.h"

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  torch::set_num_threads(1);
  // Every libtorch error would otherwise symbolize a stack trace, which costs milliseconds.
  c10::SetStackTraceFetcher([] { return std::string(); });
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::vector<char> bytes(data, data + size);
  try {
    ft::io::parse_torch_bin(bytes, "fuzz.bin");
  } catch (const ft::Error&) {
  }
  return 0;
}
