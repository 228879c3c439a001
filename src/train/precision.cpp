#include "train/precision.h"

#include <ATen/autocast_mode.h>
#include <torch/version.h>

#include "core/error.h"

namespace ft::train {
namespace {
// "cuda" or a data-parallel rank's "cuda:N".
bool on_cuda(const std::string& device) { return device.rfind("cuda", 0) == 0; }
}  // namespace

std::string resolve_precision(bool fp16, bool bf16, const std::string& device) {
  if (fp16 && bf16) throw Error("--fp16 and --bf16 are mutually exclusive");
  if (fp16 && !on_cuda(device))
    throw Error("--fp16 needs a CUDA device (CPUs have no fast fp16 matmul); use --bf16 on CPU or drop --fp16");
  return fp16 ? "fp16" : bf16 ? "bf16" : "fp32";
}

AutocastScope::AutocastScope(const std::string& precision, const std::string& device) {
  if (precision == "fp32") return;
  const at::ScalarType dtype = precision == "fp16" ? at::kHalf : at::kBFloat16;
  // The per-device autocast API changed names in 2.4; keep both spellings.
#if TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 4)
  const at::DeviceType type = on_cuda(device) ? at::kCUDA : at::kCPU;
  at::autocast::set_autocast_dtype(type, dtype);
  at::autocast::set_autocast_enabled(type, true);
  (on_cuda(device) ? cuda_ : cpu_) = true;
#else
  if (on_cuda(device)) {
    at::autocast::set_autocast_gpu_dtype(dtype);
    at::autocast::set_enabled(true);
    cuda_ = true;
  } else {
    at::autocast::set_autocast_cpu_dtype(dtype);
    at::autocast::set_cpu_enabled(true);
    cpu_ = true;
  }
#endif
}

AutocastScope::~AutocastScope() {
  if (!cuda_ && !cpu_) return;
#if TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 4)
  at::autocast::set_autocast_enabled(cuda_ ? at::kCUDA : at::kCPU, false);
#else
  if (cuda_) at::autocast::set_enabled(false);
  if (cpu_) at::autocast::set_cpu_enabled(false);
#endif
  at::autocast::clear_cache();
}

LossScaler::LossScaler(bool enabled, const torch::Device& device) : enabled_(enabled) {
  if (!enabled_) return;
  const auto opts = torch::TensorOptions().device(device);
  scale_ = torch::full({}, kInitialScale, opts.dtype(torch::kFloat));
  growth_tracker_ = torch::zeros({}, opts.dtype(torch::kInt));
  found_inf_ = torch::zeros({}, opts.dtype(torch::kFloat));
}

// On CUDA, PyTorch's own AMP kernels (one launch for all gradients); elsewhere the same arithmetic
// from plain tensor ops (libtorch 1.13 has no CPU kernel for them; fp16 training itself needs CUDA).
void LossScaler::unscale(const std::vector<torch::Tensor>& params) {
  if (!enabled_) return;
  torch::NoGradGuard no_grad;
  std::vector<torch::Tensor> grads;
  for (const auto& p : params)
    if (p.grad().defined()) grads.push_back(p.grad());
  const torch::Tensor inv_scale = scale_.to(torch::kDouble).reciprocal().to(torch::kFloat);  // as GradScaler
  found_inf_.zero_();
  if (grads.empty()) return;
  if (scale_.is_cuda()) {
    at::_amp_foreach_non_finite_check_and_unscale_(grads, found_inf_, inv_scale);
    return;
  }
  std::vector<torch::Tensor> finite;
  for (auto& g : grads) {
    g.mul_(inv_scale);
    finite.push_back(g.isfinite().all());
  }
  found_inf_.copy_(torch::stack(finite).all().logical_not());
}

void LossScaler::update() {
  if (!enabled_) return;
  torch::NoGradGuard no_grad;
  if (scale_.is_cuda()) {
    at::_amp_update_scale_(scale_, growth_tracker_, found_inf_, kGrowth, kBackoff, kGrowthInterval);
    return;
  }
  const torch::Tensor overflow = found_inf_.ne(0);
  const torch::Tensor counted = growth_tracker_ + 1;
  const torch::Tensor grow = counted.ge(kGrowthInterval).logical_and(overflow.logical_not());
  scale_.copy_(torch::where(overflow, scale_ * kBackoff, torch::where(grow, scale_ * kGrowth, scale_)));
  growth_tracker_.copy_(torch::where(overflow.logical_or(grow), torch::zeros_like(counted), counted));
}

std::map<std::string, torch::Tensor> LossScaler::state() const {
  if (!enabled_) return {};
  return {{"scaler.scale", scale_.to(torch::kCPU)}, {"scaler.growth_tracker", growth_tracker_.to(torch::kCPU)}};
}

void LossScaler::load_state(const std::map<std::string, torch::Tensor>& state, const std::string& source) {
  if (!enabled_) return;
  for (auto [name, target] : {std::pair{"scaler.scale", &scale_}, {"scaler.growth_tracker", &growth_tracker_}}) {
    const auto it = state.find(name);
    if (it == state.end() || it->second.numel() != 1)
      throw Error(source + ": no loss-scaler state '" + name + "' (was the run saved without --fp16?)");
    torch::NoGradGuard no_grad;
    target->copy_(it->second.reshape({}));
  }
}

}  // namespace ft::train
