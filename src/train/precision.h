// Mixed precision: autocast for the forward pass, and dynamic loss scaling for fp16 (what
// torch.cuda.amp.GradScaler does, which libtorch's C++ API lacks).
#pragma once
#include <torch/types.h>

#include <map>
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

// Dynamic loss scaling for fp16, as torch.cuda.amp.GradScaler does it and on the device: the scale,
// the growth tracker and the overflow flag are tensors, so no step waits for the host. Starts at
// 2^16, halves on an overflow (whose step the optimizer skips) and doubles after 2000 clean steps.
class LossScaler {
 public:
  LossScaler(bool enabled, const torch::Device& device);
  bool enabled() const { return enabled_; }
  torch::Tensor scale(const torch::Tensor& loss) const { return enabled_ ? loss * scale_ : loss; }
  // Divides the gradients by the scale and sets found_inf() to 1 if any of them is inf/NaN.
  void unscale(const std::vector<torch::Tensor>& params);
  // After the optimizer step: backs off or grows the scale according to found_inf().
  void update();
  // 0-dim float on the device, nonzero after an overflow; undefined when scaling is off.
  const torch::Tensor& found_inf() const { return found_inf_; }
  double value() const { return enabled_ ? scale_.item<double>() : 1.0; }  // reads the device

  // "scaler.scale" and "scaler.growth_tracker" (none when scaling is off), for checkpoints.
  std::map<std::string, torch::Tensor> state() const;
  void load_state(const std::map<std::string, torch::Tensor>& state, const std::string& source);

  static constexpr double kInitialScale = 65536.0, kGrowth = 2.0, kBackoff = 0.5;
  static constexpr int64_t kGrowthInterval = 2000;

 private:
  bool enabled_;
  torch::Tensor scale_, growth_tracker_, found_inf_;  // float, int32, float: 0-dim each
};

}  // namespace ft::train
