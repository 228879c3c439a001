// The training loop: AdamW + schedule, gradient accumulation and clipping, mixed precision,
// periodic evaluation, HF-style log history, best-model tracking, and checkpoint-STEP folders that
// resume a run exactly where it stopped (HF's resume_from_checkpoint).
#pragma once
#include <torch/types.h>

#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "model/transformer.h"
#include "train/args.h"
#include "train/metrics.h"

namespace ft::distributed {
class Group;
}

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

// With a group, each rank runs every world-th batch and the results are summed over the ranks: every
// rank gets the whole evaluation, each example computed once, in the batch it has without a group.
EvalResult evaluate(model::TransformerImpl& model, const Examples& data, int64_t batch_size, const std::string& device,
                    const std::string& precision, distributed::Group* group = nullptr);
// The result of an evaluation from its class probabilities [N,L] (what evaluate derives the rest from).
EvalResult eval_result(const torch::Tensor& probs, double loss, double runtime_s, const std::vector<int64_t>& labels);

struct TrainOutcome {
  nlohmann::json log_history = nlohmann::json::array();  // HF trainer_state.json's log_history
  int64_t global_step = 0;
  double epochs_done = 0;
  double final_train_loss = 0;  // mean loss of the last logging_steps steps
  double train_runtime_s = 0, eval_runtime_s = 0;
  int64_t train_samples = 0, train_real_tokens = 0;  // this rank's
  int64_t allreduce_bytes_per_step = 0;              // what each rank exchanged per optimizer step
  double allreduce_seconds = 0;                      // this rank's time in those exchanges, this run
  EvalResult final_eval, best_eval;
  bool has_eval = false;
  int64_t best_step = -1;
  bool stopped_early = false;  // by early_stopping_patience
  std::vector<double> losses;  // every optimizer step's loss, for reproducibility checks
};

// The newest complete checkpoint-STEP folder in dir, or "" when there is none.
std::string latest_checkpoint(const std::string& dir);

class Trainer {
 public:
  Trainer(model::Transformer model, TrainingArguments args, std::string device);

  // Writes the model part of a checkpoint into a folder: the weights (full fine-tuning) or the
  // adapter and head (LoRA), with the tokenizer. Needed when args.save_strategy is not "no".
  std::function<void(const std::string& dir)> save_model;
  // Loads the weights of such a folder into the model in place: needed to resume a run, and at its
  // end to restore the best model from its checkpoint.
  std::function<void(const std::string& dir)> load_weights;
  // What a run's checkpoints only resume under (model, method, data, batch size, seed, ...): a
  // checkpoint made under other values is refused, naming the first that differs.
  nlohmann::json fingerprint = nlohmann::json::object();
  // Data parallelism: each rank takes its share of every global batch (per-device batch × world),
  // gradients are summed at each optimizer step, evaluation is sharded, and only rank 0 writes.
  distributed::Group* group = nullptr;

  // With resume_dir (a checkpoint-STEP folder of a run with the same fingerprint), continues that
  // run: the same steps, losses and final weights (bit for bit on the CPU) as if it had not stopped.
  TrainOutcome train(const Examples& train_data, const Examples* eval_data, const std::string& resume_dir = "");

 private:
  model::Transformer model_;
  TrainingArguments args_;
  std::string device_, precision_;
};

}  // namespace ft::train
