// Batched forward passes over many texts, for predict and eval.
#pragma once
#include <torch/types.h>

#include <cstdint>
#include <string>
#include <vector>

#include "model/transformer.h"

namespace ft::train {

struct InferenceOptions {
  int64_t batch_size = 64;
  std::string device = "cpu";
  // Data-parallel evaluation: only batches b with b % shards == shard run here, the rows of the
  // others stay 0 (so summing every shard's result over the ranks is the whole result, exactly).
  int shard = 0, shards = 1;
};

struct InferenceResult {
  torch::Tensor logits;   // [N,L] float32 on CPU, in input order
  torch::Tensor losses;   // [N] per-example cross-entropy (defined only when labels were given)
  int64_t real_tokens = 0;
};

// sequences: full encodings ([CLS] … [SEP]); labels: empty or one per sequence.
// Batches are formed from length-sorted sequences (less padding); results come back in input order.
InferenceResult run_inference(model::TransformerImpl& model, const std::vector<std::vector<int64_t>>& sequences,
                              const std::vector<int64_t>& labels, const InferenceOptions& opts);

}  // namespace ft::train
