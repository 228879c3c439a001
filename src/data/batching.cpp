#include "data/batching.h"

#include <algorithm>
#include <numeric>

#include "core/error.h"
#include "core/random.h"

namespace ft::data {

Batch collate(const std::vector<std::vector<int64_t>>& sequences, const std::vector<int64_t>& labels,
              const std::vector<size_t>& indices, int64_t pad_id) {
  if (indices.empty()) throw Error("collate: empty batch");
  size_t longest = 0;
  for (size_t i : indices) longest = std::max(longest, sequences.at(i).size());
  const int64_t B = static_cast<int64_t>(indices.size()), S = static_cast<int64_t>(longest);
  Batch b;
  b.input_ids = torch::full({B, S}, pad_id, torch::kLong);
  b.attention_mask = torch::zeros({B, S}, torch::kLong);
  auto ids = b.input_ids.accessor<int64_t, 2>();
  auto mask = b.attention_mask.accessor<int64_t, 2>();
  for (int64_t r = 0; r < B; ++r) {
    const auto& seq = sequences[indices[static_cast<size_t>(r)]];
    for (size_t c = 0; c < seq.size(); ++c) {
      ids[r][static_cast<int64_t>(c)] = seq[c];
      mask[r][static_cast<int64_t>(c)] = 1;
    }
    b.real_tokens += static_cast<int64_t>(seq.size());
  }
  if (!labels.empty()) {
    b.labels = torch::empty({B}, torch::kLong);
    for (int64_t r = 0; r < B; ++r) b.labels[r] = labels.at(indices[static_cast<size_t>(r)]);
  }
  return b;
}

std::vector<std::vector<size_t>> epoch_batches(const std::vector<size_t>& lengths, int64_t batch_size,
                                               const Ordering& order, int64_t epoch) {
  if (batch_size <= 0) throw Error("batch size must be positive");
  const size_t n = lengths.size(), bs = static_cast<size_t>(batch_size);
  std::vector<size_t> idx(n);
  std::iota(idx.begin(), idx.end(), 0);
  if (order.shuffle) idx = permutation(n, order.seed + 1000003ULL * static_cast<uint64_t>(epoch));
  if (order.group_by_length) {
    // Sort each mega-batch by length (longest first), then move the longest sequence overall to the
    // very first batch so an out-of-memory shows up at once, as HF's sampler does.
    const size_t mega = 50 * bs;
    auto by_length = [&](size_t a, size_t b) { return lengths[a] > lengths[b]; };
    for (size_t s = 0; s < n; s += mega) std::stable_sort(idx.begin() + s, idx.begin() + std::min(n, s + mega), by_length);
    size_t best = 0;
    for (size_t s = 0; s < n; s += mega)
      if (lengths[idx[s]] > lengths[idx[best]]) best = s;
    std::swap(idx[0], idx[best]);
  }
  std::vector<std::vector<size_t>> batches;
  for (size_t s = 0; s < n; s += bs) batches.emplace_back(idx.begin() + s, idx.begin() + std::min(n, s + bs));
  return batches;
}

}  // namespace ft::data
