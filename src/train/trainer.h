// The training loop: AdamW + schedule, gradient accumulation and clipping, mixed precision,
// periodic evaluation, HF-style log history, best-model tracking.
#pragma once
#include <torch/types.h>

#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "model/transformer.h"
#include "train/args.h"
#include "train/metrics.h"

namespace ft::train {

// Tokenized examples: sequences are full encodings ([CLS] … [SEP]), labels index the label names.
struct Examples {
  std::vector<std::string> ids;
  std::vector<std::vector<int64_t>> sequences;
  std::vector<int64_t> labels;
  size_t size() const { return sequences.size(); }
};

struct EvalResult {
  double loss = 0;
  ClassificationMetrics metrics;
  double runtime_s = 0, samples_per_second = 0;
  std::vector<int64_t> predictions;  // per example, input order
  std::vector<double> probabilities; // probability of the predicted label
  torch::Tensor probs;               // [N,L]
  nlohmann::json to_log() const;     // eval_loss, eval_accuracy, eval_f1, ... as HF logs them
};

EvalResult evaluate(model::TransformerImpl& model, const Examples& data, int64_t batch_size, const std::string& device,
                    const std::string& precision);

struct TrainOutcome {
  nlohmann::json log_history = nlohmann::json::array();  // HF trainer_state.json's log_history
  int64_t global_step = 0;
  double epochs_done = 0;
  double final_train_loss = 0;  // mean loss of the last logging_steps steps
  double train_runtime_s = 0, eval_runtime_s = 0;
  int64_t train_samples = 0, train_real_tokens = 0;
  EvalResult final_eval, best_eval;
  bool has_eval = false;
  int64_t best_step = -1;
  std::vector<double> losses;  // every optimizer step's loss, for reproducibility checks
};

class Trainer {
 public:
  Trainer(model::Transformer model, TrainingArguments args, std::string device);

  // Called after each save point with the step; the caller writes the checkpoint.
  std::function<void(int64_t step)> on_save;

  TrainOutcome train(const Examples& train_data, const Examples* eval_data);

 private:
  model::Transformer model_;
  TrainingArguments args_;
  std::string device_, precision_;
};

}  // namespace ft::train
