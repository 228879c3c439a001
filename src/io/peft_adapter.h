// PEFT LoRA adapter directories: adapter_config.json + adapter_model.safetensors (or .bin), with
// keys base_model.model.<HF name>.lora_A.weight and the trained head under base_model.model.classifier.
#pragma once
#include <nlohmann/json.hpp>
#include <string>

#include "io/state_dict.h"
#include "model/lora.h"
#include "model/transformer.h"

namespace ft::io {

model::LoraConfig read_adapter_config(const std::string& dir);
// The parsed adapter_config.json; `source` names it in errors.
model::LoraConfig adapter_config_from_json(const nlohmann::json& j, const std::string& source);

// Adds LoRA to the model as the adapter's config says and loads its tensors (LoRA and head).
// Every LoRA tensor must be present with the right shape; errors name the file and tensor.
void load_adapter(const std::string& dir, model::TransformerImpl& model);

// The trainable tensors (LoRA + head) under PEFT's key names.
TensorMap adapter_state_dict(model::TransformerImpl& model);

void save_adapter(const std::string& dir, model::TransformerImpl& model, const model::LoraConfig& lora,
                  const std::string& base_model_name_or_path);

}  // namespace ft::io
