// What a command asks to build (config and weights directory, random init, the training method:
// full / lora / head, an optional saved adapter; io::build_model builds it) and what a built model
// holds (parameter counts by module group, as PEFT reports them).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "model/lora.h"
#include "model/transformer.h"

namespace ft::model {

struct ModelSpec {
  std::string dir;
  bool random_init = false;
  std::string method = "full";  // full | lora | head (linear probe: only the head trains)
  LoraConfig lora;
  std::string adapter_dir;  // a PEFT adapter to load on top (implies LoRA from its adapter_config.json)
  Head head = Head::SequenceClassification;
  uint64_t seed = 42;
  // Overrides the label count (and names) of config.json, e.g. from the training data's label set.
  std::vector<std::string> labels;
};

struct ParamGroup {
  std::string name;
  int64_t count;
};
struct ParamCounts {
  int64_t trainable = 0;
  int64_t base = 0;     // parameters of the plain model (what HF's num_parameters() reports)
  int64_t adapter = 0;  // LoRA tensors added on top
  double trainable_percent() const { return base ? 100.0 * trainable / base : 0.0; }
  std::vector<ParamGroup> groups;  // embeddings, encoder.layer.N, pooler, head, lora
};
ParamCounts count_parameters(TransformerImpl& model);

}  // namespace ft::model
