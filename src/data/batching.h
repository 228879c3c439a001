// Turning tokenized examples into padded batches: epoch order (seeded shuffle, optional HF
// group_by_length) and dynamic padding to the longest sequence of each batch.
#pragma once
#include <torch/types.h>

#include <cstdint>
#include <vector>

namespace ft::data {

struct Batch {
  torch::Tensor input_ids;       // [B,S] int64, padded with pad_id
  torch::Tensor attention_mask;  // [B,S] int64, 1 = token
  torch::Tensor labels;          // [B] int64 (empty when unlabeled)
  int64_t real_tokens = 0;       // non-pad tokens, for tokens/s
};

// sequences[i] are full encodings ([CLS] … [SEP]); labels may be empty.
Batch collate(const std::vector<std::vector<int64_t>>& sequences, const std::vector<int64_t>& labels,
              const std::vector<size_t>& indices, int64_t pad_id);

struct Ordering {
  bool shuffle = true;
  bool group_by_length = false;  // HF's LengthGroupedSampler: mega-batches of 50 batches sorted by length
  uint64_t seed = 42;
};

// Example indices of each batch of one epoch. The order depends only on (seed, epoch), so a
// resumed or repeated run sees the same data in the same order.
std::vector<std::vector<size_t>> epoch_batches(const std::vector<size_t>& lengths, int64_t batch_size,
                                               const Ordering& order, int64_t epoch);

}  // namespace ft::data
