// Builds the model a command asks for from a Hugging Face model directory: the architecture from
// config.json, the weights (or a seeded random init), the training method (full / lora / head) and
// an optional saved PEFT adapter.
#pragma once
#include "model/spec.h"
#include "model/transformer.h"

namespace ft::io {

model::Transformer build_model(const model::ModelSpec& spec);

}  // namespace ft::io
