#include "data/mlm.h"

#include <algorithm>
#include <cmath>
#include <random>

#include "core/error.h"
#include "core/random.h"
#include "text/tokenizer.h"

namespace ft::data {

uint64_t derive_seed(uint64_t seed, uint64_t a, uint64_t b) { return splitmix64(splitmix64(splitmix64(seed) ^ a) ^ b); }

MlmVocab MlmVocab::from_tokenizer(const text::Tokenizer& tok) {
  MlmVocab v;
  v.cls_id = tok.cls_id();
  v.sep_id = tok.sep_id();
  v.pad_id = tok.pad_id();
  v.mask_id = tok.mask_id();
  v.special.assign(tok.vocab_size(), false);
  std::vector<int64_t> ids = {tok.cls_id(), tok.sep_id(), tok.pad_id(), tok.mask_id(), tok.unk_id()};
  for (const auto& t : tok.options().additional_special_tokens) ids.push_back(tok.token_to_id(t));
  for (int64_t id : ids) v.special[static_cast<size_t>(id)] = true;
  for (size_t id = 0; id < v.special.size(); ++id)
    if (!v.special[id]) v.replacements.push_back(static_cast<int64_t>(id));
  if (v.replacements.empty()) throw Error("tokenizer has no ordinary tokens to mask");
  return v;
}

std::vector<std::vector<int64_t>> pack_documents(const std::vector<std::vector<int64_t>>& docs, int64_t max_length,
                                                 int64_t cls_id, int64_t sep_id) {
  if (max_length < 3) throw Error("--max-length must be at least 3 to pack documents");
  const size_t max_len = static_cast<size_t>(max_length);
  std::vector<std::vector<int64_t>> out;
  std::vector<int64_t> cur;
  for (const auto& doc : docs) {
    if (doc.empty()) continue;
    const size_t n = std::min(doc.size(), max_len - 2);
    if (cur.size() + n + 1 > max_len) {
      out.push_back(std::move(cur));
      cur.clear();
    }
    if (cur.empty()) cur.push_back(cls_id);
    cur.insert(cur.end(), doc.begin(), doc.begin() + static_cast<std::ptrdiff_t>(n));
    cur.push_back(sep_id);
  }
  if (!cur.empty()) out.push_back(std::move(cur));
  return out;
}

MaskedBatch mask_tokens(const torch::Tensor& input_ids, const MlmVocab& vocab, const MaskingOptions& opts,
                        uint64_t seed) {
  TORCH_CHECK(input_ids.dim() == 2 && input_ids.scalar_type() == torch::kInt64, "mask_tokens: input_ids must be [B,S] int64");
  MaskedBatch b;
  b.input_ids = input_ids.to(torch::kCPU).clone().contiguous();
  b.labels = torch::full_like(b.input_ids, -100);
  const int64_t rows = b.input_ids.size(0), cols = b.input_ids.size(1);
  int64_t* ids = b.input_ids.data_ptr<int64_t>();
  int64_t* labels = b.labels.data_ptr<int64_t>();
  std::mt19937_64 rng(seed);
  const uint64_t mask_cut = static_cast<uint64_t>(std::llround(opts.mask_share * 1e6));
  const uint64_t random_cut = mask_cut + static_cast<uint64_t>(std::llround(opts.random_share * 1e6));
  std::vector<int64_t> candidates;
  for (int64_t r = 0; r < rows; ++r) {
    int64_t* row = ids + r * cols;
    candidates.clear();
    for (int64_t c = 0; c < cols; ++c) {
      const int64_t id = row[c];
      const bool special = id >= 0 && static_cast<size_t>(id) < vocab.special.size() && vocab.special[static_cast<size_t>(id)];
      if (!special) candidates.push_back(c);
    }
    if (candidates.empty()) continue;
    const size_t n = candidates.size();
    const size_t k = std::clamp<size_t>(static_cast<size_t>(std::llround(opts.probability * static_cast<double>(n))), 1, n);
    // Partial Fisher–Yates: the first k candidates become the chosen positions.
    for (size_t i = 0; i < k; ++i) std::swap(candidates[i], candidates[i + uniform_below(rng, n - i)]);
    for (size_t i = 0; i < k; ++i) {
      const int64_t c = candidates[i];
      labels[r * cols + c] = row[c];
      const uint64_t u = uniform_below(rng, 1000000);
      if (u < mask_cut) row[c] = vocab.mask_id;
      else if (u < random_cut) row[c] = vocab.replacements[uniform_below(rng, vocab.replacements.size())];
    }
    b.chosen += static_cast<int64_t>(k);
  }
  return b;
}

MlmBatch apply_mask(const Batch& batch, const MaskedBatch& masked) {
  MlmBatch m;
  m.batch = batch;
  m.batch.input_ids = masked.input_ids;
  m.batch.packed_ids = masked.input_ids.reshape({-1}).index_select(0, batch.index);  // [T]
  const torch::Tensor labels = masked.labels.reshape({-1}).index_select(0, batch.index);  // [T]
  const int64_t* l = labels.data_ptr<int64_t>();
  std::vector<int64_t> positions, targets;
  for (int64_t t = 0; t < labels.numel(); ++t)
    if (l[t] != -100) {
      positions.push_back(t);
      targets.push_back(l[t]);
    }
  m.positions = torch::tensor(positions, torch::kLong);
  m.targets = torch::tensor(targets, torch::kLong);
  return m;
}

MlmBatch MlmBatch::to(const torch::Device& device) const {
  return {batch.to(device), positions.to(device, /*non_blocking=*/true), targets.to(device, /*non_blocking=*/true)};
}

}  // namespace ft::data
