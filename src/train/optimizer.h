// AdamW as HF's Trainer sets it up (no weight decay on biases and LayerNorm weights), shared by
// fine-tuning and pretraining: a multi-tensor implementation whose step is a handful of launches
// for all parameters, not ~8 per parameter as torch::optim::AdamW's loop, and whose per-parameter
// state is saved as named tensors for checkpoints.
#pragma once
#include <torch/nn/module.h>

#include <cstdint>
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

// torch.optim.AdamW (decoupled weight decay, bias-corrected moments, no amsgrad) over two parameter
// groups, decay and no decay. On the CPU, and on CUDA builds without a fused kernel, the update is
// torch::optim::AdamW's sequence of tensor ops issued as _foreach_* ops over each group: the same
// numbers, bit for bit on the CPU. On CUDA with at::_fused_adamw_ it is one kernel per group that
// also skips the step on the device when an fp16 overflow was found, with no host sync.
class MultiTensorAdamW {
 public:
  // The trainable parameters of `model`, in named_parameters() order.
  MultiTensorAdamW(torch::nn::Module& model, const AdamWSettings& s);

  // One update from the parameters' gradients (parameters without a gradient are left alone, their
  // step count too, as torch's AdamW does). found_inf (a 1-element float tensor on the parameters'
  // device, or undefined): a nonzero value skips the update.
  void step(const torch::Tensor& found_inf = {});
  void zero_grad();  // gradients to none
  void set_learning_rate(double lr) { lr_ = lr; }
  double learning_rate() const { return lr_; }

  // Whether this build has PyTorch's fused CUDA kernel (used whenever the parameters are on CUDA).
  static bool fused_kernel_built();

  const std::vector<torch::Tensor>& parameters() const { return params_; }
  const std::vector<std::string>& names() const { return names_; }

  // "<param>.exp_avg", "<param>.exp_avg_sq" and "<param>.step" (int64 scalar) for every parameter that
  // has taken a step, as on CPU tensors.
  io::TensorMap state() const;
  // The inverse; every parameter must have its entries, exp_avg/exp_avg_sq of the parameter's shape.
  void load_state(const io::TensorMap& state, const std::string& source);

 private:
  struct Group {
    double weight_decay;
    std::vector<size_t> members;  // indices into params_
  };
  void step_foreach(const Group& g, const std::vector<size_t>& live);
  void step_fused(const Group& g, const std::vector<size_t>& live, const torch::Tensor& found_inf);

  AdamWSettings s_;
  double lr_;
  std::vector<torch::Tensor> params_;
  std::vector<std::string> names_;
  std::vector<Group> groups_;
  std::vector<torch::Tensor> exp_avg_, exp_avg_sq_;  // allocated on a parameter's first step
  std::vector<int64_t> steps_;                        // host counts (the _foreach_ path)
  std::vector<torch::Tensor> device_steps_;           // float scalars on the device (the fused path)
  bool fused_ = false;
};

}  // namespace ft::train
