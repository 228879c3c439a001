// State dicts saved by Python's torch.save, loaded through libtorch's unpickler, which rebuilds
// only the types it knows instead of running arbitrary Python like torch.load does.
#include <vector>

#include "core/error.h"
#include "core/files.h"
#include "io/state_dict.h"

namespace ft::io {
namespace {

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// torch.save may store views into a shared storage (tied or sliced weights); copy those so
// entries neither alias each other nor keep a larger storage alive.
torch::Tensor own_memory(const torch::Tensor& t) {
  const bool owns = t.is_contiguous() && t.storage_offset() == 0 && t.storage().nbytes() == t.nbytes();
  return owns ? t : t.clone(torch::MemoryFormat::Contiguous);
}

}  // namespace

TensorMap read_torch_bin(const std::string& path) {
  const std::string text = read_file(path);
  return parse_torch_bin({text.begin(), text.end()}, path);
}

TensorMap parse_torch_bin(const std::vector<char>& bytes, const std::string& path) {
  // Since PyTorch 1.6, torch.save writes a zip archive; the older raw-pickle format is not supported.
  if (bytes.size() < 4 || std::string(bytes.data(), 4) != "PK\x03\x04")
    throw Error(path + ": not a torch.save zip archive (expected a .bin written by PyTorch >= 1.6)");

  torch::IValue value;
  try {
    value = torch::pickle_load(bytes);
  } catch (const c10::Error& e) {
    throw Error(path + ": cannot load torch.save archive (" + e.what_without_backtrace() + ")");
  } catch (const std::exception& e) {
    throw Error(path + ": cannot load torch.save archive (" + e.what() + ")");
  }
  if (!value.isGenericDict())
    throw Error(path + ": expected a state dict (name -> tensor), got " + value.tagKind());

  TensorMap out;
  for (const auto& item : value.toGenericDict()) {
    if (!item.key().isString()) throw Error(path + ": state dict has a non-string key");
    const std::string name = item.key().toStringRef();
    if (!item.value().isTensor()) throw Error(path + ": '" + name + "' is not a tensor");
    out[name] = own_memory(item.value().toTensor().to(torch::kCPU));
  }
  return out;
}

TensorMap read_state_dict(const std::string& path) {
  if (ends_with(path, ".safetensors")) return read_safetensors(path);
  if (ends_with(path, ".bin")) return read_torch_bin(path);
  throw Error(path + ": unknown checkpoint format (expected a .safetensors or .bin file)");
}

}  // namespace ft::io
