#include "io/hf_model.h"

#include <set>

#include "core/error.h"
#include "core/files.h"
#include "core/log.h"

namespace ft::io {
namespace {

bool starts_with(const std::string& s, const std::string& prefix) { return s.rfind(prefix, 0) == 0; }
bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// Entries HF checkpoints carry that are not parameters of ours: the position_ids buffer of older
// checkpoints, and LM decoders tied to the word embeddings.
bool is_buffer_or_tied(const std::string& key) {
  return ends_with(key, "embeddings.position_ids") || key == "lm_head.decoder.weight" || key == "lm_head.decoder.bias" ||
         key == "cls.predictions.decoder.weight" || key == "cls.predictions.decoder.bias";
}

std::string join(const std::vector<std::string>& v, size_t max_items = 20) {
  std::string out;
  for (size_t i = 0; i < v.size() && i < max_items; ++i) out += (i ? ", " : "") + v[i];
  if (v.size() > max_items) out += ", … (" + std::to_string(v.size() - max_items) + " more)";
  return out;
}

std::string shape_str(const torch::Tensor& t) {
  std::string s = "[";
  for (int64_t i = 0; i < t.dim(); ++i) s += (i ? "," : "") + std::to_string(t.size(i));
  return s + "]";
}

}  // namespace

LoadReport load_state_dict(model::TransformerImpl& model, const TensorMap& tensors, const std::string& source,
                           bool reinit_mismatched_head) {
  const std::string base = model.config().base_prefix();
  // A bare encoder checkpoint (RobertaModel.save_pretrained) has no "roberta." prefix: add it.
  bool has_prefix = false;
  for (const auto& kv : tensors) has_prefix |= starts_with(kv.first, base);
  auto key_of = [&](const std::string& k) {
    const bool bare = !has_prefix && (starts_with(k, "embeddings.") || starts_with(k, "encoder.") || starts_with(k, "pooler."));
    return bare ? base + k : k;
  };

  std::map<std::string, const torch::Tensor*> by_name;
  for (const auto& kv : tensors) by_name[key_of(kv.first)] = &kv.second;

  LoadReport report;
  std::vector<std::string> missing, mismatched, unexpected;
  std::set<std::string> used;
  torch::NoGradGuard no_grad;
  for (auto& item : model.named_parameters()) {
    const std::string& name = item.key();
    auto it = by_name.find(name);
    if (it == by_name.end()) {
      if (starts_with(name, model.head_prefix())) report.initialized.push_back(name);
      else if (name.find(".lora_") == std::string::npos) missing.push_back(name);
      continue;
    }
    used.insert(name);
    const torch::Tensor& src = *it->second;
    const bool head = starts_with(name, model.head_prefix());
    if (src.sizes() != item.value().sizes() && head && reinit_mismatched_head) {
      report.initialized.push_back(name);
      continue;
    }
    if (src.sizes() != item.value().sizes()) {
      mismatched.push_back(name + " " + shape_str(src) + " vs model " + shape_str(item.value()));
      continue;
    }
    if (!src.is_floating_point()) {
      mismatched.push_back(name + " has a non-float dtype");
      continue;
    }
    item.value().copy_(src);
  }
  for (const auto& [name, t] : by_name) {
    if (used.count(name) || is_buffer_or_tied(name)) continue;
    // Encoder keys the model lacks mean the config does not describe the checkpoint: an error.
    // Anything else (another task's head, BERT's pooler) is dropped, as HF does, with a warning.
    if (starts_with(name, base + "embeddings.") || starts_with(name, base + "encoder.")) unexpected.push_back(name);
    else report.ignored.push_back(name);
  }
  if (!missing.empty() || !mismatched.empty() || !unexpected.empty()) {
    std::string msg = source + ": checkpoint does not fit the model";
    if (!missing.empty()) msg += "\n  missing keys (" + std::to_string(missing.size()) + "): " + join(missing);
    if (!unexpected.empty()) msg += "\n  unexpected keys (" + std::to_string(unexpected.size()) + "): " + join(unexpected);
    if (!mismatched.empty()) msg += "\n  shape mismatches (" + std::to_string(mismatched.size()) + "): " + join(mismatched);
    throw Error(msg);
  }
  if (!report.initialized.empty()) {
    model.init_head_weights();
    warn(source + ": the task head is missing or of another shape (" + join(report.initialized) +
         "); the head was initialised randomly — train the model before using its predictions");
  }
  if (!report.ignored.empty()) warn(source + ": ignored " + std::to_string(report.ignored.size()) + " unused entries (" + join(report.ignored, 4) + ")");
  return report;
}

std::string find_weights(const std::string& dir) {
  for (const char* name : {"model.safetensors", "pytorch_model.bin"}) {
    const std::string path = join_path(dir, name);
    if (file_exists(path)) return path;
  }
  throw Error(dir + ": no model.safetensors or pytorch_model.bin (use --random-init to start from random weights)");
}

model::Transformer load_model(const std::string& dir, model::Head head, bool random_init) {
  model::Transformer m(model::ModelConfig::load(dir), head);
  if (!random_init) {
    const std::string path = find_weights(dir);
    load_state_dict(*m, read_state_dict(path), path);
  }
  return m;
}

TensorMap state_dict(model::TransformerImpl& model) {
  TensorMap out;
  for (const auto& item : model.named_parameters()) out[item.key()] = item.value().detach();
  return out;
}

void save_model(const std::string& dir, model::TransformerImpl& model) {
  if (model.has_lora()) throw Error("save_model: merge the LoRA adapter first (or save it as an adapter)");
  make_dirs(dir);
  // transformers refuses safetensors files whose metadata lacks format=pt.
  write_safetensors(join_path(dir, "model.safetensors"), state_dict(model), {{"format", "pt"}});
  write_json_atomic(join_path(dir, "config.json"), model.config().to_json(model.architecture()));
}

void copy_tokenizer_files(const std::string& from, const std::string& to) {
  for (const char* name : {"vocab.txt", "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json"}) {
    const std::string src = join_path(from, name);
    if (file_exists(src)) write_file_atomic(join_path(to, name), read_file(src));
  }
}

}  // namespace ft::io
