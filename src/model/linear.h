// A linear layer y = x Wᵀ + b with an optional LoRA branch, as PEFT computes it:
//   y = x Wᵀ + b + (alpha / r) · dropout(x) Aᵀ Bᵀ,   A: [r, in], B: [out, r].
// Parameters are named like HF/PEFT: weight, bias, lora_A.weight, lora_B.weight.
#pragma once
#include <ATen/ops/native_dropout.h>

#include <torch/nn/module.h>
#include <torch/nn/modules/linear.h>

#include "model/lora.h"

namespace ft::model {

// Inverted dropout keeping a 1-byte mask for backward (torch::nn::Dropout on CPU keeps a float one,
// 4x the activation memory); identity outside training.
inline torch::Tensor byte_mask_dropout(const torch::Tensor& x, double p, bool training) {
  if (!training || p <= 0) return x;
  return std::get<0>(at::native_dropout(x, p, true));
}

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
  double lora_dropout = 0;
  double lora_scaling = 0;
};
TORCH_MODULE(Linear);

}  // namespace ft::model
