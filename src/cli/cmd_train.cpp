// finetune train: one fine-tuning run (full, LoRA or head-only), options named as HF's TrainingArguments.
#include <iostream>

#include "cli/commands.h"
#include "cli/options.h"
#include "distributed/group.h"
#include "distributed/launch.h"
#include "train/run.h"

namespace ft::cli {

void add_run_options(CLI::App* cmd, std::shared_ptr<nlohmann::json> o, bool training) {
  add_json_option(cmd, "model_name_or_path", Kind::Text, "Model directory (HF format)", o, "--model");
  add_json_option(cmd, "adapter", Kind::Text, "A PEFT LoRA adapter directory to apply on top", o);
  add_json_option(cmd, "random_init", Kind::Flag, "Start from random weights (config.json only; the seed fixes them)", o);
  add_json_option(cmd, "tokenizer_name", Kind::Text, "Tokenizer directory (default: the model's)", o);
  add_json_option(cmd, "eval_file", Kind::Text,
                  training ? "Labelled test data (TSV/CSV/JSONL); with a validation set it is scored once, at the end"
                           : "Labelled evaluation data (TSV/CSV/JSONL)",
                  o, training ? "" : "--data");
  add_json_option(cmd, "text_column", Kind::Text, "Text column/field (default: document)", o);
  add_json_option(cmd, "label_column", Kind::Text, "Label column/field (default: label)", o);
  add_json_option(cmd, "id_column", Kind::Text, "Id column/field (default: id; row number when absent)", o);
  add_json_option(cmd, "label_names", Kind::List, "Raw label values in label-id order (default: 0,1)", o);
  add_json_option(cmd, "data_format", Kind::Text, "auto | tsv | csv | jsonl", o);
  add_json_option(cmd, "on_bad_row", Kind::Text, "error | skip (skip and count malformed rows)", o);
  add_json_option(cmd, "max_eval_samples", Kind::Integer, "Evaluate on a seeded subset of this size", o);
  add_json_option(cmd, "per_device_eval_batch_size", Kind::Integer, "Evaluation batch size (64)", o);
  add_json_option(cmd, "max_length", Kind::Integer, "Truncate sequences to this many tokens (128)", o);
  add_json_option(cmd, "seed", Kind::Integer, "Seed for data order, subsets, init and dropout (42)", o);
  add_json_option(cmd, "fp16", Kind::Flag, "fp16 autocast (CUDA only)", o);
  add_json_option(cmd, "bf16", Kind::Flag, "bf16 autocast (CUDA or CPU)", o);
  add_json_option(cmd, "device", Kind::Text, "auto | cpu | cuda", o);
  add_json_option(cmd, "threads", Kind::Integer, "CPU threads (default: all cores)", o);
  add_json_option(cmd, "output_dir", Kind::Text, training ? "Where results and the checkpoint go" : "Where predictions.tsv and eval_results.json go", o);
  add_json_option(cmd, "overwrite_output_dir", Kind::Flag, "Write into a non-empty folder that is not a finetune run", o);
  if (!training) return;
  add_json_option(cmd, "arm", Kind::Text, "Name of this run in comparisons (default: the method)", o);
  add_json_option(cmd, "method", Kind::Text, "full | lora | head", o);
  add_json_option(cmd, "lora_r", Kind::Integer, "LoRA rank (8)", o);
  add_json_option(cmd, "lora_alpha", Kind::Number, "LoRA alpha (32)", o);
  add_json_option(cmd, "lora_dropout", Kind::Number, "LoRA dropout (0.1)", o);
  add_json_option(cmd, "lora_target_modules", Kind::List, "LoRA targets (query,value)", o);
  add_json_option(cmd, "train_file", Kind::Text, "Labelled training data (TSV/CSV/JSONL)", o);
  add_json_option(cmd, "max_train_samples", Kind::Integer, "Train on a seeded subset of this size", o);
  add_json_option(cmd, "learning_rate", Kind::Number, "Peak learning rate (5e-5)", o);
  add_json_option(cmd, "num_train_epochs", Kind::Number, "Epochs (3)", o);
  add_json_option(cmd, "max_steps", Kind::Integer, "Optimizer steps; overrides epochs when > 0", o);
  add_json_option(cmd, "per_device_train_batch_size", Kind::Integer, "Training batch size (32)", o);
  add_json_option(cmd, "weight_decay", Kind::Number, "AdamW weight decay, not on biases/LayerNorm (0)", o);
  add_json_option(cmd, "warmup_ratio", Kind::Number, "Warmup as a fraction of all steps (0)", o);
  add_json_option(cmd, "warmup_steps", Kind::Integer, "Warmup steps; overrides the ratio when > 0", o);
  add_json_option(cmd, "lr_scheduler_type", Kind::Text, "linear | constant | cosine", o);
  add_json_option(cmd, "max_grad_norm", Kind::Number, "Gradient clipping norm; 0 disables (1.0)", o);
  add_json_option(cmd, "gradient_accumulation_steps", Kind::Integer, "Batches per optimizer step (1)", o);
  add_json_option(cmd, "eval_strategy", Kind::Text, "no | steps | epoch", o);
  add_json_option(cmd, "eval_steps", Kind::Integer, "Evaluate every N steps with --eval-strategy steps", o);
  add_json_option(cmd, "logging_steps", Kind::Integer, "Log the mean training loss every N steps (50)", o);
  add_json_option(cmd, "save_strategy", Kind::Text, "no | steps | epoch (intermediate checkpoints)", o);
  add_json_option(cmd, "save_steps", Kind::Integer, "Save every N steps with --save-strategy steps", o);
  add_json_option(cmd, "save_total_limit", Kind::Integer, "Keep only the newest N checkpoints (and the best)", o);
  add_json_option(cmd, "load_best_model_at_end", Kind::Flag, "Keep the best evaluated weights", o);
  add_json_option(cmd, "metric_for_best_model", Kind::Text, "eval_loss | eval_accuracy | eval_f1 ...", o);
  add_json_option(cmd, "early_stopping_patience", Kind::Integer,
                  "Stop after N evaluations without improvement (HF's EarlyStoppingCallback; 0: off)", o);
  add_json_option(cmd, "early_stopping_threshold", Kind::Number, "Smallest improvement that resets the patience (0)", o);
  add_json_option(cmd, "validation_split", Kind::Number,
                  "Hold out this fraction of the training data (seeded, stratified) for evaluation and model selection", o);
  add_json_option(cmd, "validation_file", Kind::Text, "Labelled validation data for evaluation and model selection", o);
  add_json_option(cmd, "group_by_length", Kind::Flag, "Batch similar lengths together (HF's sampler)", o);
  add_json_option(cmd, "ddp_timeout", Kind::Integer, "Data parallel: seconds a rendezvous or all-reduce may wait (1800)", o);
}

void add_train_command(CLI::App& app) {
  auto* cmd = app.add_subcommand("train", "Fine-tune a model: full, LoRA or head-only");
  auto overrides = std::make_shared<nlohmann::json>(nlohmann::json::object());
  auto config = std::make_shared<std::string>();
  auto resume = std::make_shared<std::string>();
  cmd->add_option("--config", *config, "JSON file with the same keys (command-line flags win)");
  add_run_options(cmd, overrides, /*training=*/true);
  CLI::Option* resume_opt =
      cmd->add_option("--resume", *resume, "Continue from the newest checkpoint-STEP in --output-dir, or from the one given")
          ->expected(0, 1);
  auto nproc = add_nproc_option(cmd);
  cmd->callback([=] {
    if (launch_here(*nproc)) return;
    nlohmann::json j = merged_config(*config, *overrides);
    if (resume_opt->count() > 0) j["resume_from_checkpoint"] = resume->empty() ? nlohmann::json(true) : nlohmann::json(*resume);
    const train::RunSpec spec = train::RunSpec::from_json(j, config->empty() ? "command line" : *config);
    const nlohmann::json r = train::run_training(spec);
    if (distributed::launch_env().rank == 0) std::cout << train::summary_line(r) << "\n";
  });
}

}  // namespace ft::cli
