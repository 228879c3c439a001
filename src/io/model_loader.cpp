#include "io/model_loader.h"

#include "core/error.h"
#include "io/hf_model.h"
#include "io/peft_adapter.h"

namespace ft::io {

model::Transformer build_model(const model::ModelSpec& spec) {
  if (spec.method != "full" && spec.method != "lora" && spec.method != "head")
    throw Error("--method must be full, lora or head (got '" + spec.method + "')");
  // One seed fixes every random draw of model construction: head init, LoRA init.
  torch::manual_seed(spec.seed);
  model::ModelConfig cfg = model::ModelConfig::load(spec.dir);
  if (!spec.labels.empty()) cfg.id2label = spec.labels;
  model::Transformer model(cfg, spec.head);
  if (!spec.random_init) {
    const std::string path = find_weights(spec.dir);
    // A head trained for another label set cannot be reused: it is re-initialised instead.
    load_state_dict(*model, read_state_dict(path), path, /*reinit_mismatched_head=*/!spec.labels.empty());
  }
  if (!spec.adapter_dir.empty()) {
    load_adapter(spec.adapter_dir, *model);
  } else if (spec.method == "lora") {
    model->add_lora(spec.lora);
  } else if (spec.method == "head") {
    model->freeze_encoder();
  }
  return model;
}

}  // namespace ft::io
