// Masked-language-model data: reviews packed into full-length sequences, and RoBERTa's dynamic
// masking, drawn afresh for every batch from a seed so that a run (and a resumed run) is reproducible.
#pragma once
#include <torch/types.h>

#include <cstdint>
#include <vector>

#include "data/batching.h"

namespace ft::text {
class Tokenizer;
}

namespace ft::data {

// The token ids masking needs to know about.
struct MlmVocab {
  int64_t cls_id = 0, sep_id = 0, pad_id = 0, mask_id = 0;
  std::vector<bool> special;            // by id: never chosen for masking, never drawn as a replacement
  std::vector<int64_t> replacements;    // the non-special ids, drawn uniformly for the 10% random tokens
  // Specials: [CLS] [SEP] [PAD] [MASK] [UNK] and the tokenizer's additional special tokens.
  static MlmVocab from_tokenizer(const text::Tokenizer& tok);
};

// Packs documents (word-piece ids without specials) greedily, in order, into sequences
// [CLS] d1 [SEP] d2 [SEP] … [SEP] of at most max_length tokens. A document that does not fit in
// the current sequence starts the next one; one longer than max_length - 2 is truncated to that and
// fills a sequence alone. Empty documents are skipped.
std::vector<std::vector<int64_t>> pack_documents(const std::vector<std::vector<int64_t>>& docs, int64_t max_length,
                                                 int64_t cls_id, int64_t sep_id);

struct MaskingOptions {
  double probability = 0.15;  // share of the non-special tokens chosen for prediction
  double mask_share = 0.8;    // of the chosen: replaced by [MASK]
  double random_share = 0.1;  // of the chosen: replaced by a random token; the rest stay unchanged
};

struct MaskedBatch {
  torch::Tensor input_ids;  // [B,S] int64, chosen positions replaced
  torch::Tensor labels;     // [B,S] int64: original id at chosen positions, -100 elsewhere
  int64_t chosen = 0;
};

// RoBERTa's dynamic masking of a padded batch input_ids [B,S]. Each sequence gets exactly
// round(probability · n) chosen positions out of its n non-special tokens (at least one when n > 0),
// so no batch is ever without a target. Depends only on (input_ids, seed): the same seed gives the
// same mask on any platform (std::mt19937_64 through ft::uniform_below).
MaskedBatch mask_tokens(const torch::Tensor& input_ids, const MlmVocab& vocab, const MaskingOptions& opts,
                        uint64_t seed);

// A batch with its mask applied, ready for the model: the masked ids in both layouts, and what to
// predict, in the packed order (the model scores only the real tokens).
struct MlmBatch {
  Batch batch;
  torch::Tensor positions;  // [N] int64, indices into the batch's T packed tokens
  torch::Tensor targets;    // [N] int64, the original ids there
  MlmBatch to(const torch::Device& device) const;
};
MlmBatch apply_mask(const Batch& batch, const MaskedBatch& masked);

// A seed for one use, derived from a run seed and a position (step, micro-batch): SplitMix64 mixing,
// so nearby positions give unrelated streams.
uint64_t derive_seed(uint64_t seed, uint64_t a, uint64_t b = 0);

}  // namespace ft::data
