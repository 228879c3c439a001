// Turning tokenized examples into batches: epoch order (seeded shuffle, optional HF group_by_length),
// dynamic padding to the longest sequence of each batch, and the packed layout of the real tokens.
#pragma once
#include <torch/types.h>

#include <cstdint>
#include <vector>

namespace ft::data {

// One batch in two layouts, both built on the host, which knows every row's length: the padded one
// (attention's matmul path and masking use it) and the packed one of the T real tokens, row after row
// (token-wise layers and variable-length attention use it), so the device never has to search the
// mask for real tokens (a nonzero() and a host sync per batch).
struct Batch {
  torch::Tensor input_ids;       // [B,S] int64, padded with pad_id
  torch::Tensor attention_mask;  // [B,S] int64, 1 = token
  torch::Tensor labels;          // [B] int64 (undefined when unlabeled)
  torch::Tensor packed_ids;      // [T] int64, the real tokens
  torch::Tensor positions;       // [T] int64, each token's column in its row
  torch::Tensor token_type_ids;  // [T] int64, or undefined (all zero)
  torch::Tensor index;           // [T] int64, each token's flat position r·S + c in the padded layout
  torch::Tensor first;           // [B] int64, where each row's first token sits in the packed order
  torch::Tensor cu_seqlens;      // [B+1] int32, row boundaries in the packed order
  int64_t max_length = 0;        // S, the longest row
  int64_t real_tokens = 0;       // T

  int64_t size() const { return input_ids.size(0); }
  // The same batch on `device`; copies from pinned host memory do not block the host.
  Batch to(const torch::Device& device) const;
};

// sequences[i] are full encodings ([CLS] … [SEP]); labels may be empty. pin_memory (for a CUDA
// device) allocates the host tensors page-locked so Batch::to copies asynchronously.
Batch collate(const std::vector<std::vector<int64_t>>& sequences, const std::vector<int64_t>& labels,
              const std::vector<size_t>& indices, int64_t pad_id, bool pin_memory = false);

// The packed layout of any padded batch, from its mask (rows may have holes): input_ids,
// attention_mask, token_type_ids (may be undefined) [B,S], on any device (read on the host);
// positions [B,S] are the column of each token unless given (e.g. HF's RoBERTa numbering).
Batch pack_padded(const torch::Tensor& input_ids, const torch::Tensor& attention_mask,
                  const torch::Tensor& token_type_ids = {}, const torch::Tensor& positions = {});

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
