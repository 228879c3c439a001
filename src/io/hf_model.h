// Hugging Face model directories: config.json + model.safetensors (or pytorch_model.bin).
#pragma once
#include <string>
#include <vector>

#include "io/state_dict.h"
#include "model/transformer.h"

namespace ft::io {

struct LoadReport {
  std::vector<std::string> initialized;  // head parameters absent from the checkpoint, freshly initialised
  std::vector<std::string> ignored;      // checkpoint entries the model has no use for (other heads, pooler)
};

// Copies `tensors` into the model's parameters (cast to each parameter's dtype/device). Collects every
// missing encoder key, unexpected encoder key and shape mismatch, then throws one error naming them all.
// A missing task head is initialised as HF does (with a warning), as are LoRA tensors; so is a head
// of another shape when reinit_mismatched_head (HF's ignore_mismatched_sizes, for a new label set).
LoadReport load_state_dict(model::TransformerImpl& model, const TensorMap& tensors, const std::string& source,
                           bool reinit_mismatched_head = false);

// The weights file of a model directory: model.safetensors, else pytorch_model.bin.
std::string find_weights(const std::string& dir);

// Builds the model from dir/config.json and loads its weights; with random_init, weights are drawn as
// HF's _init_weights does and no weights file is needed.
model::Transformer load_model(const std::string& dir, model::Head head, bool random_init = false);

// Writes an HF-loadable directory: config.json + model.safetensors (LoRA must be merged first).
void save_model(const std::string& dir, model::TransformerImpl& model);

// Copies the tokenizer files (vocab.txt, tokenizer.json, tokenizer_config.json, special_tokens_map.json)
// that exist in `from` into `to`, so a saved checkpoint directory is usable on its own.
void copy_tokenizer_files(const std::string& from, const std::string& to);

// The model's parameters as a name → tensor map, as HF's state_dict() would name them.
TensorMap state_dict(model::TransformerImpl& model);

}  // namespace ft::io
