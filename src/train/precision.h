// Mixed precision: autocast for the forward pass, and dynamic loss scaling for fp16 (what
// torch.cuda.amp.GradScaler does, which libtorch's C++ API lacks).
#pragma once
#include <torch/types.h>

#include <string>
#include <vector>

namespace ft::train {

// "fp32" | "fp16" | "bf16"; fp16 needs CUDA (refused on CPU with a clear error).
std::string resolve_precision(bool fp16, bool bf16, const std::string& device);

// RAII: autocast on for its lifetime when precision is fp16/bf16.
class AutocastScope {
 public:
  AutocastScope(const std::string& precision, const std::string& device);
  ~AutocastScope();
  AutocastScope(const AutocastScope&) = delete;
  AutocastScope& operator=(const AutocastScope&) = delete;

 private:
  bool cuda_ = false, cpu_ = false;
};

class LossScaler {
 public:
  explicit LossScaler(bool enabled) : enabled_(enabled) {}
  torch::Tensor scale(const torch::Tensor& loss) const { return enabled_ ? loss * scale_ : loss; }
  // Divides the gradients by the scale; returns false (and halves the scale) when any is inf/NaN,
  // in which case the optimizer step must be skipped.
  bool unscale(const std::vector<torch::Tensor>& params);
  double value() const { return enabled_ ? scale_ : 1.0; }

 private:
  bool enabled_;
  double scale_ = 65536.0;
  int good_steps_ = 0;
};

}  // namespace ft::train
