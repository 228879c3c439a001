// The optimizer step that fine-tuning and pretraining share: micro-batch backward passes, then
// unscale (fp16), clip, AdamW, zero the gradients. Nothing in it waits for the device: losses, the
// gradient norm and the overflow flag stay there until flush(), which a loop calls at its logging,
// evaluation and save points, so a CUDA step is a queue of launches the host never stops for.
#pragma once
#include <torch/nn/module.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "train/optimizer.h"
#include "train/precision.h"

namespace ft::distributed {
class Group;
class GradientSync;
}  // namespace ft::distributed

namespace ft::train {

// The total 2-norm of the parameters' gradients (as one vector), as torch::nn::utils::clip_grad_norm_
// computes it, and with max_norm > 0 the gradients scaled by min(1, max_norm / (norm + 1e-6)). The
// norm and the coefficient stay on the device. → 0-dim float tensor
torch::Tensor clip_grad_norm(const std::vector<torch::Tensor>& params, double max_norm);

struct StepSettings {
  AdamWSettings adamw;
  double max_grad_norm = 1.0;  // 0: no clipping (the norm is still measured)
};

class TrainingStep {
 public:
  // The optimizer takes the trainable parameters of `model`, which must already be on `device`.
  // With a group (data parallelism), step() first sums the gradients and the step's loss over the
  // ranks; each rank's micro-batch losses must then be weighted by its share of the global batch.
  TrainingStep(torch::nn::Module& model, const StepSettings& s, const std::string& precision, const torch::Device& device,
               distributed::Group* group = nullptr);
  ~TrainingStep();

  // Backward of one micro-batch's loss (a 0-dim float tensor, already divided by the number of
  // micro-batches in the step); its value is added to the step's loss. With a group, `last` (the
  // step's last micro-batch on this rank) lets the gradient all-reduce overlap this backward.
  void backward(const torch::Tensor& loss, bool last = false);
  // Ends the step: (all-reduce,) unscale, clip, the AdamW update at learning rate lr (skipped on an fp16
  // overflow), zero the gradients, update the loss scale.
  void step(double lr);

  // Reads what the steps since the last flush left on the device, in one copy: appends their losses
  // to `losses` and returns the latest step's gradient norm. A non-finite loss throws ft::Error:
  // "training loss became nan at step N (learning rate too high?); stopped" + note.
  double flush(std::vector<double>& losses, const std::string& note_on_nonfinite);

  int64_t steps() const { return steps_; }
  void set_steps(int64_t steps) { steps_ = steps; }  // where a resumed run starts counting
  MultiTensorAdamW& optimizer() { return optimizer_; }
  LossScaler& scaler() { return scaler_; }
  // Bytes each rank all-reduces per optimizer step, and the seconds spent so far (0 without a group).
  int64_t allreduce_bytes_per_step() const;
  double allreduce_seconds() const;

 private:
  MultiTensorAdamW optimizer_;
  LossScaler scaler_;
  std::unique_ptr<distributed::GradientSync> sync_;
  torch::Device device_;
  double max_grad_norm_;
  int64_t steps_ = 0;
  torch::Tensor step_loss_;             // float64 on the device, this step's micro-batch losses so far
  std::vector<torch::Tensor> pending_;  // each unflushed step's loss
  torch::Tensor grad_norm_;             // the latest step's
  double last_grad_norm_ = 0;
};

}  // namespace ft::train
