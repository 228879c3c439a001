// Training hyper-parameters, named as Hugging Face's TrainingArguments names them, so a JSON config
// reads like the Python original (keys: learning_rate, num_train_epochs, ...).
#pragma once
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>

namespace ft::train {

struct TrainingArguments {
  std::string output_dir;
  double learning_rate = 5e-5;
  double num_train_epochs = 3;
  int64_t max_steps = -1;  // > 0 overrides num_train_epochs
  int64_t per_device_train_batch_size = 32;
  int64_t per_device_eval_batch_size = 64;
  double weight_decay = 0.0;
  double warmup_ratio = 0.0;
  int64_t warmup_steps = 0;  // > 0 overrides warmup_ratio
  std::string lr_scheduler_type = "linear";  // linear | constant | cosine
  double max_grad_norm = 1.0;
  int64_t gradient_accumulation_steps = 1;
  uint64_t seed = 42;
  std::string evaluation_strategy = "epoch";  // no | steps | epoch
  int64_t eval_steps = 500;
  int64_t logging_steps = 50;
  std::string save_strategy = "no";  // no | steps | epoch (the final model is always saved)
  int64_t save_steps = 500;
  int64_t save_total_limit = 0;  // > 0: keep only the newest N checkpoint-STEP folders (and the best)
  bool load_best_model_at_end = false;
  std::string metric_for_best_model = "eval_loss";  // eval_loss | eval_accuracy | eval_f1 ...
  // HF's EarlyStoppingCallback: stop after this many evaluations in a row that did not improve the
  // best metric by more than the threshold (0: never stop early).
  int64_t early_stopping_patience = 0;
  double early_stopping_threshold = 0.0;
  bool fp16 = false, bf16 = false;
  bool group_by_length = false;
  int64_t max_length = 128;
  std::string device = "auto";
  int threads = 0;
  int64_t ddp_timeout = 1800;
  bool overwrite_output_dir = false;  // allow an output dir that is not empty and not one of our runs  // seconds a data-parallel rendezvous or collective may wait (HF's default)

  // Rejects values that cannot work, naming the option.
  void validate() const;
  bool greater_is_better() const { return metric_for_best_model.find("loss") == std::string::npos; }
  nlohmann::json to_json() const;
  // Applies the keys present in `j` (unknown keys are an error naming `source`).
  void update_from_json(const nlohmann::json& j, const std::string& source);
};

// Learning-rate multiplier at optimizer step `step` (0-based) of `total`, as HF's schedulers.
double lr_factor(const std::string& type, int64_t step, int64_t warmup, int64_t total);

}  // namespace ft::train
