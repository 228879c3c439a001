// Masked-language-model pretraining of an encoder on a plain-text corpus (one document a line):
// from scratch (config.json + tokenizer, random init) or continued from a checkpoint (domain
// adaptation). Reviews are packed into full sequences, masked dynamically (RoBERTa), and trained with
// AdamW + linear warmup/decay; a held-out slice with a fixed mask is evaluated periodically, and a
// resumable checkpoint (weights, tokenizer, AdamW state, data position, log history) is kept.
#pragma once
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "model/transformer.h"

namespace ft::train {

struct PretrainArguments {
  std::string model_config;  // config.json (+ tokenizer): start from random weights
  std::string model;         // a model directory with weights: continue from them
  std::string tokenizer;     // default: the model (config) directory
  std::string corpus;        // UTF-8 text, one document a line
  std::string output_dir;
  bool resume = false;       // continue from output_dir/checkpoint (model/model_config not needed)
  bool overwrite_output_dir = false;  // allow an output dir that is not empty and not one of our runs

  int64_t eval_lines = 2000;  // the corpus's last lines, held out for evaluation; 0 = no evaluation
  int64_t max_length = 128;
  double mlm_probability = 0.15;

  int64_t max_steps = -1;       // > 0 wins over num_train_epochs
  double num_train_epochs = 0;  // over the packed training sequences
  int64_t per_device_train_batch_size = 32;
  int64_t per_device_eval_batch_size = 64;
  int64_t gradient_accumulation_steps = 1;
  double learning_rate = 5e-4;
  double weight_decay = 0.01;  // not on biases and LayerNorm weights
  double adam_beta1 = 0.9, adam_beta2 = 0.98, adam_epsilon = 1e-6;  // RoBERTa's
  double warmup_ratio = 0.06;
  int64_t warmup_steps = 0;  // > 0 wins over warmup_ratio
  double max_grad_norm = 1.0;  // 0 disables clipping
  int64_t logging_steps = 50;
  int64_t eval_steps = 500;  // 0 = only at the end
  int64_t save_steps = 500;  // 0 = no intermediate checkpoints
  uint64_t seed = 42;
  bool bf16 = false, fp16 = false;
  std::string device = "auto";
  int threads = 0;
  int64_t ddp_timeout = 1800;  // seconds a data-parallel rendezvous or collective may wait
  std::string command_line;  // recorded in pretrain_results.json

  void validate() const;  // names the offending option
  nlohmann::json to_json() const;
};

struct PretrainOutcome {
  nlohmann::json results;      // what pretrain_results.json holds
  nlohmann::json log_history;  // as trainer_state.json's
  std::vector<double> losses;  // every optimizer step's training loss from step 1 (a resumed run includes the restored ones)
  model::Transformer model{nullptr};  // the trained model, as saved
};

// Under a distributed launch (RANK, WORLD_SIZE, ...) each rank takes its share of every global batch
// (per-device × world sequences), masks it with its own seed, and the ranks' gradients are summed,
// each weighted by its share (so equal shares average, as DDP does); rank 0 alone writes.
// Runs pretraining and writes into output_dir: config.json + model.safetensors (…ForMaskedLM), the
// tokenizer files, trainer_state.json and pretrain_results.json; checkpoint/ every save_steps.
// A NaN/inf loss stops the run with an ft::Error and leaves the last checkpoint as it was.
PretrainOutcome run_pretraining(const PretrainArguments& args);

}  // namespace ft::train
