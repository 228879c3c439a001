// One training run from a single JSON description (the CLI flags and --config files map onto the same
// keys): load and tokenize the data, build the model for the method, train, evaluate, and write
// results.json, trainer_state.json, predictions.tsv and the checkpoint into output_dir.
#pragma once
#include <nlohmann/json.hpp>
#include <string>

#include "data/dataset.h"
#include "model/spec.h"
#include "train/args.h"

namespace ft::distributed {
class Group;
}

namespace ft::train {

struct RunSpec {
  std::string arm;  // a name for this run in comparisons; defaults to the method
  model::ModelSpec model;
  std::string tokenizer_dir;  // defaults to the model directory
  std::string train_file, eval_file;  // eval_file: the test set
  // A validation set for evaluation during training, model selection, early stopping and the
  // generalization gap: a seeded, stratified fraction of the training data, or a file. With one, the
  // test set is read and scored once, after training; without, the test set plays both parts (the study's protocol).
  double validation_split = 0;
  std::string validation_file;
  data::DatasetOptions data;  // column names, label names, bad-row policy
  int64_t max_train_samples = -1, max_eval_samples = -1;
  // "" (a new run), "latest" (the newest complete checkpoint-STEP in output_dir) or a checkpoint folder.
  std::string resume_from_checkpoint;
  // How many runs shared the machine with this one (finetune compare --parallel N sets N): recorded so
  // that its times and memory are read as those of a shared machine.
  int concurrent_runs = 1;
  TrainingArguments args;

  // Keys: every TrainingArguments key plus model_name_or_path, random_init, method, lora_r,
  // lora_alpha, lora_dropout, lora_target_modules, tokenizer_name, train_file, eval_file, validation_split, validation_file,
  // text_column, label_column, id_column, label_names, data_format, on_bad_row,
  // max_train_samples, max_eval_samples, arm, resume_from_checkpoint (true or a folder), concurrent_runs. Unknown keys are an error naming `source`.
  static RunSpec from_json(const nlohmann::json& j, const std::string& source);
  nlohmann::json to_json() const;
};

// Runs training and returns the content of results.json; a data-parallel rank other than 0 writes
// nothing and returns the "distributed" section only.
nlohmann::json run_training(const RunSpec& spec);

// Evaluates a model (optionally with an adapter) on a labelled file; writes predictions.tsv and
// eval_results.json into output_dir when it is not empty. Returns the metrics.
nlohmann::json run_evaluation(const RunSpec& spec, const std::string& output_dir);

// One human line from results.json: arm, accuracy, losses, gap, trainable share, time, checkpoint.
std::string summary_line(const nlohmann::json& results);

// results.json's "distributed" section: world_size, backend ("none" without a group),
// allreduce_bytes_per_step, ranks [{rank, samples, real_tokens, samples_per_second, allreduce_seconds,
// peak_rss_bytes, cuda_peak_allocated_bytes}], and the ranks' sums samples, real_tokens,
// samples_per_second. A collective: with a group, every rank calls it, with its own figures.
nlohmann::json rank_statistics(distributed::Group* group, int64_t samples, int64_t real_tokens, double seconds,
                               int64_t allreduce_bytes_per_step, double allreduce_seconds);

// The torch version this binary was built against, e.g. "1.13.1".
std::string torch_version();

}  // namespace ft::train
