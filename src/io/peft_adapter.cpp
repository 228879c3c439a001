#include "io/peft_adapter.h"

#include <limits>

#include <caffe2/serialize/inline_container.h>
#include <torch/csrc/jit/serialization/export.h>
#include <torch/csrc/jit/serialization/pickler.h>

#include "core/error.h"
#include "core/files.h"
#include "core/log.h"

namespace ft::io {
namespace {

const std::string kPrefix = "base_model.model.";

bool is_lora(const std::string& name) { return name.find(".lora_A.") != std::string::npos || name.find(".lora_B.") != std::string::npos; }

std::string adapter_weights(const std::string& dir) {
  for (const char* name : {"adapter_model.safetensors", "adapter_model.bin"}) {
    const std::string path = join_path(dir, name);
    if (file_exists(path)) return path;
  }
  throw Error(dir + ": no adapter_model.safetensors or adapter_model.bin");
}

// A dict of tensors in torch.save's format (a zip of data.pkl plus one record per storage), as
// torch::pickle_save writes it but without TorchScript's type tags (torch.jit._pickle.restore_type_tag),
// which torch.load(weights_only=True), PyTorch 2.6's default, refuses.
std::string torch_save_bytes(const TensorMap& tensors) {
  c10::impl::GenericDict dict(c10::StringType::get(), c10::TensorType::get());
  for (const auto& [key, t] : tensors) dict.insert(key, t.detach().to(torch::kCPU).contiguous());
  std::vector<char> pickle;
  torch::jit::Pickler pickler([&](const char* bytes, size_t n) { pickle.insert(pickle.end(), bytes, bytes + n); },
                              nullptr, nullptr, nullptr, nullptr, /*tag_aggregates=*/false);
  pickler.protocol();
  pickler.pushIValue(dict);
  pickler.stop();
  std::string out;
  caffe2::serialize::PyTorchStreamWriter writer([&](const void* bytes, size_t n) {
    out.append(static_cast<const char*>(bytes), n);
    return n;
  });
  torch::jit::writeArchiveAndTensors("data", pickle.data(), pickle.size(), pickler.tensorData(), writer);
  writer.writeEndOfFile();
  return out;
}

}  // namespace

model::LoraConfig read_adapter_config(const std::string& dir) {
  const std::string path = join_path(dir, "adapter_config.json");
  if (!file_exists(path)) throw Error(path + ": not found (an adapter directory needs adapter_config.json)");
  return adapter_config_from_json(read_json(path), path);
}

model::LoraConfig adapter_config_from_json(const nlohmann::json& j, const std::string& path) {
  auto fail = [&](const std::string& why) -> void { throw Error(path + ": " + why); };
  if (!j.is_object()) fail("expected a JSON object");
  model::LoraConfig c;
  // json::value() and get() throw on a value of the wrong type, and get<int>() of a float out of
  // int's range is undefined: types and ranges are checked here.
  try {
    if (j.value("peft_type", "") != "LORA") fail("peft_type must be \"LORA\"");
    if (j.value("fan_in_fan_out", false)) fail("fan_in_fan_out adapters are not supported");
    if (j.value("bias", "none") != "none") fail("only bias \"none\" is supported");
    const nlohmann::json& r = j.at("r");
    if (!r.is_number_integer() || r.get<int64_t>() <= 0 || r.get<int64_t>() > std::numeric_limits<int>::max())
      fail("r must be a positive integer");
    c.r = static_cast<int>(r.get<int64_t>());
    c.alpha = j.at("lora_alpha").get<double>();
    c.dropout = j.value("lora_dropout", 0.0);
    if (!(c.dropout >= 0 && c.dropout <= 1)) fail("lora_dropout must be in [0, 1]");
    if (!j.at("target_modules").is_array()) fail("target_modules must be a list (regex targets are not supported)");
    c.target_modules = j.at("target_modules").get<std::vector<std::string>>();
  } catch (const nlohmann::json::exception& e) {
    fail(std::string("missing or malformed field (") + e.what() + ")");
  }
  return c;
}

void load_adapter(const std::string& dir, model::TransformerImpl& model) {
  const model::LoraConfig cfg = read_adapter_config(dir);
  if (!model.has_lora()) model.add_lora(cfg);
  const std::string path = adapter_weights(dir);
  const TensorMap tensors = read_state_dict(path);

  auto params = model.named_parameters();
  std::vector<std::string> problems;
  size_t head_loaded = 0;
  torch::NoGradGuard no_grad;
  for (const auto& [key, t] : tensors) {
    if (key.rfind(kPrefix, 0) != 0) {
      problems.push_back(key + ": does not start with " + kPrefix);
      continue;
    }
    const std::string name = key.substr(kPrefix.size());
    torch::Tensor* p = params.find(name);
    if (!p) {
      problems.push_back(key + ": no such parameter in the model");
      continue;
    }
    if (p->sizes() != t.sizes()) {
      problems.push_back(key + ": shape mismatch");
      continue;
    }
    p->copy_(t);
    if (!is_lora(name)) ++head_loaded;
  }
  for (const auto& item : params)
    if (is_lora(item.key()) && !tensors.count(kPrefix + item.key())) problems.push_back(kPrefix + item.key() + ": missing");
  if (!problems.empty()) {
    std::string msg = path + ": adapter does not fit the model";
    for (const auto& p : problems) msg += "\n  " + p;
    throw Error(msg);
  }
  if (head_loaded == 0) warn(path + ": the adapter holds no task head; the base model's head is used");
}

TensorMap adapter_state_dict(model::TransformerImpl& model) {
  TensorMap out;
  for (const auto& item : model.named_parameters())
    if (is_lora(item.key()) || item.key().rfind(model.head_prefix(), 0) == 0)
      out[kPrefix + item.key()] = item.value().detach();
  return out;
}

void save_adapter(const std::string& dir, model::TransformerImpl& model, const model::LoraConfig& lora,
                  const std::string& base_model_name_or_path) {
  if (!model.has_lora()) throw Error("save_adapter: the model has no LoRA layers");
  make_dirs(dir);
  const TensorMap tensors = adapter_state_dict(model);
  write_safetensors(join_path(dir, "adapter_model.safetensors"), tensors, {{"format", "pt"}});
  // The same tensors as torch.save's zip pickle, for PEFT before 0.4 (the study's 0.3.0), which reads only
  // adapter_model.bin; later PEFT versions (and finetune) take the safetensors file.
  write_file_atomic(join_path(dir, "adapter_model.bin"), torch_save_bytes(tensors));
  // Only the keys PEFT 0.3 knows: older PEFT versions reject unknown ones.
  nlohmann::json cfg = {
      {"base_model_name_or_path", base_model_name_or_path},
      {"bias", "none"},
      {"fan_in_fan_out", false},
      {"inference_mode", true},
      {"init_lora_weights", true},
      {"lora_alpha", lora.alpha},
      {"lora_dropout", lora.dropout},
      {"modules_to_save", nullptr},  // PEFT adds the classifier itself for SEQ_CLS
      {"peft_type", "LORA"},
      {"r", lora.r},
      {"target_modules", lora.target_modules},
      {"task_type", model.head() == model::Head::SequenceClassification ? "SEQ_CLS" : "FEATURE_EXTRACTION"},
  };
  write_json_atomic(join_path(dir, "adapter_config.json"), cfg);
}

}  // namespace ft::io
