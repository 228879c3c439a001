// A linear layer y = x Wᵀ + b with an optional LoRA branch, as PEFT computes it:
//   y = x Wᵀ + b + (alpha / r) · dropout(x) Aᵀ Bᵀ,   A: [r, in], B: [out, r].
// Parameters are named like HF/PEFT: weight, bias, lora_A.weight, lora_B.weight.
#pragma once
#include <torch/nn/module.h>
#include <torch/nn/modules/dropout.h>
#include <torch/nn/modules/linear.h>

#include "model/lora.h"

namespace ft::model {

class LinearImpl : public torch::nn::Module {
 public:
  LinearImpl(int64_t in_features, int64_t out_features, bool bias = true);

  // x: [..., in] → [..., out]
  torch::Tensor forward(const torch::Tensor& x);

  // Adds the LoRA branch: A ~ kaiming_uniform(a=√5) (PEFT's default), B = 0, so the output is unchanged.
  void add_lora(const LoraConfig& cfg);
  bool has_lora() const { return !lora_A.is_empty(); }
  // Folds scaling · B A into W and removes the branch (PEFT's merge_and_unload).
  void merge_lora();

  torch::Tensor weight, bias;
  torch::nn::Linear lora_A{nullptr}, lora_B{nullptr};
  torch::nn::Dropout lora_dropout{nullptr};
  double lora_scaling = 0;
};
TORCH_MODULE(Linear);

}  // namespace ft::model
