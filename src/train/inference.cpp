#include "train/inference.h"

#include <torch/nn/functional/loss.h>

#include <algorithm>
#include <numeric>

#include "data/batching.h"

namespace ft::train {

InferenceResult run_inference(model::TransformerImpl& model, const std::vector<std::vector<int64_t>>& sequences,
                              const std::vector<int64_t>& labels, const InferenceOptions& opts) {
  const size_t n = sequences.size();
  std::vector<size_t> order(n);
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return sequences[a].size() > sequences[b].size(); });

  InferenceResult r;
  r.logits = torch::empty({static_cast<int64_t>(n), model.config().num_labels()}, torch::kFloat);
  if (!labels.empty()) r.losses = torch::empty({static_cast<int64_t>(n)}, torch::kFloat);
  const bool was_training = model.is_training();
  model.eval();
  torch::NoGradGuard no_grad;
  const torch::Device device(opts.device);
  for (size_t s = 0; s < n; s += static_cast<size_t>(opts.batch_size)) {
    const std::vector<size_t> idx(order.begin() + s, order.begin() + std::min(n, s + static_cast<size_t>(opts.batch_size)));
    const data::Batch b = data::collate(sequences, labels, idx, model.config().pad_token_id, device.is_cuda());
    // Copying the logits back is the batch's only wait for the device.
    const torch::Tensor logits = model.forward(b.to(device)).to(torch::kCPU, torch::kFloat);  // [B,L]
    const torch::Tensor where = torch::tensor(std::vector<int64_t>(idx.begin(), idx.end()), torch::kLong);
    r.logits.index_copy_(0, where, logits);
    if (!labels.empty()) {
      namespace F = torch::nn::functional;
      r.losses.index_copy_(0, where, F::cross_entropy(logits, b.labels, F::CrossEntropyFuncOptions().reduction(torch::kNone)));
    }
    r.real_tokens += b.real_tokens;
  }
  if (was_training) model.train();
  return r;
}

}  // namespace ft::train
