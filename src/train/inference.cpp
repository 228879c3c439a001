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
  const bool sharded = opts.shards > 1;
  auto alloc = [&](at::IntArrayRef sizes) { return sharded ? torch::zeros(sizes, torch::kFloat) : torch::empty(sizes, torch::kFloat); };
  r.logits = alloc({static_cast<int64_t>(n), model.config().num_labels()});
  if (!labels.empty()) r.losses = alloc({static_cast<int64_t>(n)});
  const bool was_training = model.is_training();
  model.eval();
  torch::NoGradGuard no_grad;
  const torch::Device device(opts.device);
  // The batches are the same whatever the sharding, so each example's logits are too.
  for (size_t s = 0, k = 0; s < n; s += static_cast<size_t>(opts.batch_size), ++k) {
    if (static_cast<int>(k % static_cast<size_t>(opts.shards)) != opts.shard) continue;
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
