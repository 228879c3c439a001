// Checkpoint tensor I/O: safetensors (read and write) and torch.save zip files (read only).
// Every failure is an ft::Error that names the file, and the tensor when there is one.
#pragma once
#include <torch/torch.h>

#include <iosfwd>
#include <map>
#include <string>
#include <vector>

namespace ft::io {

// Sorted by name, as safetensors stores them.
using TensorMap = std::map<std::string, torch::Tensor>;

// CPU, contiguous tensors. Dtypes: BOOL U8 I8 I16 F16 BF16 I32 F32 F64 I64.
// The header is validated as the reference implementation does (the tensors must tile the data
// section exactly) before anything is allocated, so a hostile header cannot cause a huge allocation.
TensorMap read_safetensors(const std::string& path);
// The same from a seekable binary stream (e.g. bytes in memory); `source` names it in errors.
TensorMap read_safetensors(std::istream& in, const std::string& source);

// The "__metadata__" string map (empty when absent); reads and validates only the header.
std::map<std::string, std::string> read_safetensors_metadata(const std::string& path);

// Atomic (temp file + rename). Tensors are copied to CPU and made contiguous; the header is
// padded with spaces to a multiple of 8 bytes and the data laid out by decreasing dtype
// alignment, then name, so every tensor is aligned to its element size.
void write_safetensors(const std::string& path, const TensorMap& tensors,
                       const std::map<std::string, std::string>& metadata = {});

// A state dict written by Python's torch.save (zip format, PyTorch >= 1.6), e.g. pytorch_model.bin
// or PEFT's adapter_model.bin. Each tensor gets its own contiguous CPU memory.
TensorMap read_torch_bin(const std::string& path);
// The same from the file's bytes; `source` names them in errors.
TensorMap parse_torch_bin(const std::vector<char>& bytes, const std::string& source);

// Dispatches on the extension: ".safetensors" or ".bin".
TensorMap read_state_dict(const std::string& path);

}  // namespace ft::io
