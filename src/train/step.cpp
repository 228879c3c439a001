#include "train/step.h"

#include <ATen/Functions.h>
#include <torch/version.h>

#include <cmath>

#include "core/error.h"
#include "distributed/group.h"

namespace ft::train {

torch::Tensor clip_grad_norm(const std::vector<torch::Tensor>& params, double max_norm) {
  torch::NoGradGuard no_grad;
  std::vector<torch::Tensor> grads;
  for (const auto& p : params)
    if (p.grad().defined()) grads.push_back(p.grad());
  if (grads.empty()) return torch::zeros({});
  const std::vector<torch::Tensor> norms = at::_foreach_norm(grads, 2);
  // at::, not torch::linalg:: (whose header PyTorch 2.6 removed); the same op.
  const torch::Tensor total = norms.size() == 1 ? norms[0] : at::linalg_vector_norm(torch::stack(norms), 2);
  if (max_norm > 0) {
    const torch::Tensor coef = torch::clamp(max_norm / (total + 1e-6), c10::nullopt, 1.0);
#if TORCH_VERSION_MAJOR >= 2 && (TORCH_VERSION_MAJOR > 2 || TORCH_VERSION_MINOR >= 1)
    at::_foreach_mul_(grads, coef);  // one launch; the tensor-scalar overload arrived in 2.1
#else
    for (auto& g : grads) g.mul_(coef);
#endif
  }
  return total;
}

TrainingStep::TrainingStep(torch::nn::Module& model, const StepSettings& s, const std::string& precision,
                           const torch::Device& device, distributed::Group* group)
    : optimizer_(model, s.adamw), scaler_(precision == "fp16", device), device_(device), max_grad_norm_(s.max_grad_norm) {
  if (group) sync_ = std::make_unique<distributed::GradientSync>(*group, optimizer_.parameters());
}

TrainingStep::~TrainingStep() = default;

int64_t TrainingStep::allreduce_bytes_per_step() const { return sync_ ? sync_->bytes_per_step() : 0; }
double TrainingStep::allreduce_seconds() const { return sync_ ? sync_->seconds() : 0.0; }

void TrainingStep::backward(const torch::Tensor& loss, bool last) {
  if (sync_ && last) sync_->overlap_next_backward();
  scaler_.scale(loss).backward();
  // Summed in float64 on the device, as the host used to sum each micro-batch's .item().
  const torch::Tensor value = loss.detach().to(torch::kDouble);
  step_loss_ = step_loss_.defined() ? step_loss_ + value : value;
}

void TrainingStep::step(double lr) {
  if (sync_) {
    // A rank whose share of a short last batch was empty still joins the all-reduce, with zeros.
    if (!step_loss_.defined()) step_loss_ = torch::zeros({}, torch::TensorOptions().dtype(torch::kDouble).device(device_));
    sync_->all_reduce(step_loss_);
  }
  if (!step_loss_.defined()) throw Error("training step without a backward pass");
  scaler_.unscale(optimizer_.parameters());
  grad_norm_ = clip_grad_norm(optimizer_.parameters(), max_grad_norm_);
  optimizer_.set_learning_rate(lr);
  optimizer_.step(scaler_.found_inf());
  optimizer_.zero_grad();
  scaler_.update();
  pending_.push_back(step_loss_);
  step_loss_ = torch::Tensor();
  ++steps_;
}

double TrainingStep::flush(std::vector<double>& losses, const std::string& note_on_nonfinite) {
  if (pending_.empty()) return last_grad_norm_;
  // Losses and the latest grad norm in one tensor, so one copy (the step's only sync) reads them all.
  const torch::Tensor host =
      torch::cat({torch::stack(pending_), grad_norm_.detach().to(torch::kDouble).reshape({1})}).to(torch::kCPU);
  const double* v = host.data_ptr<double>();
  const int64_t n = static_cast<int64_t>(pending_.size());
  pending_.clear();
  last_grad_norm_ = v[n];
  for (int64_t i = 0; i < n; ++i) {
    if (!std::isfinite(v[i]))
      throw Error("training loss became " + std::to_string(v[i]) + " at step " + std::to_string(steps_ - n + i + 1) +
                  " (learning rate too high?); stopped" + note_on_nonfinite);
    losses.push_back(v[i]);
  }
  return last_grad_norm_;
}

}  // namespace ft::train
