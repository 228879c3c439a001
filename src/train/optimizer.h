// AdamW as HF's Trainer sets it up (no weight decay on biases and LayerNorm weights), shared by
// fine-tuning and pretraining, and its per-parameter state as named tensors for checkpoints.
#pragma once
#include <torch/nn/module.h>
#include <torch/optim/adamw.h>

#include <memory>
#include <string>
#include <vector>

#include "io/state_dict.h"

namespace ft::train {

struct AdamWSettings {
  double learning_rate = 5e-5;
  double beta1 = 0.9, beta2 = 0.999, epsilon = 1e-8;
  double weight_decay = 0.0;
};

// HF excludes biases and LayerNorm weights from weight decay.
bool decays(const std::string& param_name);

// Two parameter groups (decay / no decay) over the trainable parameters of `model`, which are
// appended to `trainable` in named_parameters() order when it is given.
std::unique_ptr<torch::optim::AdamW> make_adamw(torch::nn::Module& model, const AdamWSettings& s,
                                                std::vector<torch::Tensor>* trainable = nullptr);

void set_learning_rate(torch::optim::Optimizer& optimizer, double lr);

// "<param>.exp_avg", "<param>.exp_avg_sq", "<param>.step" (int64 scalar) and, with amsgrad,
// "<param>.max_exp_avg_sq" for each parameter of `model` that has optimizer state.
io::TensorMap adamw_state(torch::optim::AdamW& optimizer, torch::nn::Module& model);
// The inverse; every trainable parameter must have its entries, of the parameter's shape.
void load_adamw_state(torch::optim::AdamW& optimizer, torch::nn::Module& model, const io::TensorMap& state,
                      const std::string& source);

}  // namespace ft::train
