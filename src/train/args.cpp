#include "train/args.h"

#include <cmath>

#include "core/error.h"
#include "core/json_get.h"

namespace ft::train {

// One list of (json key, member) pairs drives both directions of the JSON mapping.
#define FT_TRAINING_FIELDS(X)                                                                        \
  X(output_dir) X(learning_rate) X(num_train_epochs) X(max_steps) X(per_device_train_batch_size)     \
  X(per_device_eval_batch_size) X(weight_decay) X(warmup_ratio) X(warmup_steps) X(lr_scheduler_type) \
  X(max_grad_norm) X(gradient_accumulation_steps) X(seed) X(evaluation_strategy) X(eval_steps)       \
  X(logging_steps) X(save_strategy) X(save_steps) X(save_total_limit) X(load_best_model_at_end) X(metric_for_best_model) \
  X(early_stopping_patience) X(early_stopping_threshold)                                             \
  X(fp16) X(bf16) X(group_by_length) X(max_length) X(device) X(threads) X(ddp_timeout) X(overwrite_output_dir)

nlohmann::json TrainingArguments::to_json() const {
  nlohmann::json j;
#define FT_TO_JSON(name) j[#name] = name;
  FT_TRAINING_FIELDS(FT_TO_JSON)
#undef FT_TO_JSON
  return j;
}

void TrainingArguments::update_from_json(const nlohmann::json& j, const std::string& source) {
  if (!j.is_object()) throw Error(source + ": training arguments must be a JSON object");
  for (auto it = j.begin(); it != j.end(); ++it) {
    const std::string& key = it.key();
    bool known = false;
    // HF renamed evaluation_strategy to eval_strategy; accept both spellings.
    const std::string field = key == "eval_strategy" ? "evaluation_strategy" : key;
#define FT_FROM_JSON(name)                                     \
  if (field == #name) {                                        \
    json_get_to(it.value(), name, source + ": '" + key + "'"); \
    known = true;                                              \
  }
    FT_TRAINING_FIELDS(FT_FROM_JSON)
#undef FT_FROM_JSON
    if (!known) throw Error(source + ": unknown training argument '" + key + "'");
  }
}

void TrainingArguments::validate() const {
  auto require = [](bool ok, const std::string& what) {
    if (!ok) throw Error(what);
  };
  require(learning_rate > 0 && std::isfinite(learning_rate), "--learning-rate must be positive");
  require(num_train_epochs > 0 || max_steps > 0, "--num-train-epochs or --max-steps must be positive");
  require(max_steps == -1 || max_steps > 0, "--max-steps must be positive, or -1 to train for --num-train-epochs");
  require(num_train_epochs >= 0 && num_train_epochs <= 1e6, "--num-train-epochs must be in [0, 1e6]");
  require(max_length <= 1 << 20, "--max-length must be at most 1048576");
  require(threads >= 0, "--threads must be >= 0 (0: all cores)");
  require(per_device_train_batch_size > 0, "--per-device-train-batch-size must be positive");
  require(per_device_eval_batch_size > 0, "--per-device-eval-batch-size must be positive");
  require(weight_decay >= 0, "--weight-decay must be >= 0");
  require(warmup_ratio >= 0 && warmup_ratio < 1, "--warmup-ratio must be in [0, 1)");
  require(warmup_steps >= 0, "--warmup-steps must be >= 0");
  require(lr_scheduler_type == "linear" || lr_scheduler_type == "constant" || lr_scheduler_type == "cosine",
          "--lr-scheduler-type must be linear, constant or cosine");
  require(max_grad_norm >= 0, "--max-grad-norm must be >= 0 (0 disables clipping)");
  require(gradient_accumulation_steps > 0, "--gradient-accumulation-steps must be positive");
  for (const auto& s : {evaluation_strategy, save_strategy})
    require(s == "no" || s == "steps" || s == "epoch", "strategies must be no, steps or epoch (got '" + s + "')");
  require(eval_steps > 0 && save_steps > 0 && logging_steps > 0, "--eval-steps, --save-steps and --logging-steps must be positive");
  require(save_total_limit >= 0, "--save-total-limit must be >= 0 (0 keeps every checkpoint)");
  require(!(fp16 && bf16), "--fp16 and --bf16 are mutually exclusive");
  require(ddp_timeout > 0, "--ddp-timeout must be positive (seconds)");
  require(max_length >= 2, "--max-length must be at least 2 ([CLS] and [SEP])");
  require(!load_best_model_at_end || evaluation_strategy != "no", "--load-best-model-at-end needs an evaluation strategy");
  require(early_stopping_patience >= 0 && early_stopping_threshold >= 0,
          "--early-stopping-patience and --early-stopping-threshold must be >= 0");
  // As HF's EarlyStoppingCallback asserts: stopping early keeps the best model, not the last.
  require(early_stopping_patience == 0 || load_best_model_at_end,
          "--early-stopping-patience needs --load-best-model-at-end (and an evaluation strategy)");
}

double lr_factor(const std::string& type, int64_t step, int64_t warmup, int64_t total) {
  if (step < warmup) return static_cast<double>(step) / static_cast<double>(std::max<int64_t>(1, warmup));
  if (type == "constant") return 1.0;
  const double progress = static_cast<double>(step - warmup) / static_cast<double>(std::max<int64_t>(1, total - warmup));
  if (type == "cosine") return std::max(0.0, 0.5 * (1.0 + std::cos(M_PI * progress)));
  return std::max(0.0, 1.0 - progress);  // linear
}

}  // namespace ft::train
