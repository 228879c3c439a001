#include "train/precision.h"

#include <ATen/autocast_mode.h>
#include <torch/version.h>

#include "core/error.h"

namespace ft::train {

std::string resolve_precision(bool fp16, bool bf16, const std::string& device) {
  if (fp16 && bf16) throw Error("--fp16 and --bf16 are mutually exclusive");
  if (fp16 && device != "cuda")
    throw Error("--fp16 needs a CUDA device (CPUs have no fast fp16 matmul); use --bf16 on CPU or drop --fp16");
  return fp16 ? "fp16" : bf16 ? "bf16" : "fp32";
}

AutocastScope::AutocastScope(const std::string& precision, const std::string& device) {
  if (precision == "fp32") return;
  const at::ScalarType dtype = precision == "fp16" ? at::kHalf : at::kBFloat16;
  // The per-device autocast API changed names in 2.4; keep both spellings.
#if TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 4)
  const at::DeviceType type = device == "cuda" ? at::kCUDA : at::kCPU;
  at::autocast::set_autocast_dtype(type, dtype);
  at::autocast::set_autocast_enabled(type, true);
  (device == "cuda" ? cuda_ : cpu_) = true;
#else
  if (device == "cuda") {
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

bool LossScaler::unscale(const std::vector<torch::Tensor>& params) {
  if (!enabled_) return true;
  // One device→host sync for all parameters rather than one each.
  std::vector<torch::Tensor> checks;
  for (const auto& p : params) {
    if (!p.grad().defined()) continue;
    p.grad().div_(scale_);
    checks.push_back(p.grad().isfinite().all());
  }
  const bool finite = checks.empty() || torch::stack(checks).all().item<bool>();
  if (!finite) {
    scale_ /= 2;
    good_steps_ = 0;
    return false;
  }
  // Grow again after a long run without overflow, as GradScaler's growth_interval does.
  if (++good_steps_ == 2000) {
    scale_ *= 2;
    good_steps_ = 0;
  }
  return true;
}

}  // namespace ft::train
