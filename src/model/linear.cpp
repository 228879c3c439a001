#include "model/linear.h"

#include <torch/nn/functional/linear.h>
#include <torch/nn/init.h>

#include <cmath>

namespace ft::model {

LinearImpl::LinearImpl(int64_t in_features, int64_t out_features, bool with_bias) {
  weight = register_parameter("weight", torch::empty({out_features, in_features}));
  if (with_bias) bias = register_parameter("bias", torch::zeros({out_features}));
}

torch::Tensor LinearImpl::forward(const torch::Tensor& x) {
  torch::Tensor y = torch::nn::functional::linear(x, weight, bias);
  if (has_lora()) y = y + lora_B(lora_A(byte_mask_dropout(x, lora_dropout, is_training()))) * lora_scaling;
  return y;
}

void LinearImpl::add_lora(const LoraConfig& cfg) {
  const int64_t in = weight.size(1), out = weight.size(0);
  auto opts = [](int64_t i, int64_t o) { return torch::nn::LinearOptions(i, o).bias(false); };
  lora_A = register_module("lora_A", torch::nn::Linear(opts(in, cfg.r)));
  lora_B = register_module("lora_B", torch::nn::Linear(opts(cfg.r, out)));
  lora_dropout = cfg.dropout;
  torch::NoGradGuard no_grad;
  torch::nn::init::kaiming_uniform_(lora_A->weight, std::sqrt(5.0));
  torch::nn::init::zeros_(lora_B->weight);
  lora_A->to(weight.device(), weight.scalar_type());
  lora_B->to(weight.device(), weight.scalar_type());
  lora_scaling = cfg.scaling();
  // New modules start in training mode; follow the layer's so an eval-mode model stays deterministic.
  lora_A->train(is_training());
  lora_B->train(is_training());
}

void LinearImpl::merge_lora() {
  if (!has_lora()) return;
  {
    torch::NoGradGuard no_grad;
    weight.add_(torch::matmul(lora_B->weight, lora_A->weight) * lora_scaling);
  }
  unregister_module("lora_A");
  unregister_module("lora_B");
  lora_A = nullptr;
  lora_B = nullptr;
}

}  // namespace ft::model
