#include "data/batching.h"

#include <algorithm>
#include <numeric>

#include "core/error.h"
#include "core/random.h"

namespace ft::data {
namespace {

torch::Tensor host_tensor(at::IntArrayRef sizes, torch::ScalarType dtype, bool pin_memory) {
  return torch::empty(sizes, torch::TensorOptions().dtype(dtype).pinned_memory(pin_memory));
}

// Fills the packed layout from each row's real columns: cols[r] lists the columns of row r's tokens.
void fill_packed(Batch& b, const std::vector<std::vector<int64_t>>& cols, const int64_t* ids, const int64_t* positions,
                 const int64_t* types, bool pin_memory) {
  const int64_t B = static_cast<int64_t>(cols.size()), S = b.max_length;
  int64_t T = 0;
  for (const auto& c : cols) T += static_cast<int64_t>(c.size());
  b.real_tokens = T;
  b.packed_ids = host_tensor({T}, torch::kLong, pin_memory);
  b.positions = host_tensor({T}, torch::kLong, pin_memory);
  b.index = host_tensor({T}, torch::kLong, pin_memory);
  b.first = host_tensor({B}, torch::kLong, pin_memory);
  b.cu_seqlens = host_tensor({B + 1}, torch::kInt, pin_memory);
  if (types) b.token_type_ids = host_tensor({T}, torch::kLong, pin_memory);
  int64_t* packed = b.packed_ids.data_ptr<int64_t>();
  int64_t* pos = b.positions.data_ptr<int64_t>();
  int64_t* index = b.index.data_ptr<int64_t>();
  int64_t* first = b.first.data_ptr<int64_t>();
  int32_t* cu = b.cu_seqlens.data_ptr<int32_t>();
  int64_t* type_out = types ? b.token_type_ids.data_ptr<int64_t>() : nullptr;
  int64_t t = 0;
  cu[0] = 0;
  for (int64_t r = 0; r < B; ++r) {
    first[r] = t;
    for (int64_t c : cols[static_cast<size_t>(r)]) {
      const int64_t flat = r * S + c;
      packed[t] = ids[flat];
      pos[t] = positions ? positions[flat] : c;
      index[t] = flat;
      if (type_out) type_out[t] = types[flat];
      ++t;
    }
    cu[r + 1] = static_cast<int32_t>(t);
  }
}

}  // namespace

Batch Batch::to(const torch::Device& device) const {
  auto move = [&](const torch::Tensor& t) { return t.defined() ? t.to(device, /*non_blocking=*/true) : t; };
  Batch b = *this;
  for (torch::Tensor* t : {&b.input_ids, &b.attention_mask, &b.labels, &b.packed_ids, &b.positions, &b.token_type_ids,
                           &b.index, &b.first, &b.cu_seqlens})
    *t = move(*t);
  return b;
}

Batch collate(const std::vector<std::vector<int64_t>>& sequences, const std::vector<int64_t>& labels,
              const std::vector<size_t>& indices, int64_t pad_id, bool pin_memory) {
  if (indices.empty()) throw Error("collate: empty batch");
  size_t longest = 0;
  for (size_t i : indices) longest = std::max(longest, sequences.at(i).size());
  const int64_t B = static_cast<int64_t>(indices.size()), S = static_cast<int64_t>(longest);
  Batch b;
  b.max_length = S;
  b.input_ids = host_tensor({B, S}, torch::kLong, pin_memory).fill_(pad_id);
  b.attention_mask = host_tensor({B, S}, torch::kLong, pin_memory).zero_();
  int64_t* ids = b.input_ids.data_ptr<int64_t>();
  int64_t* mask = b.attention_mask.data_ptr<int64_t>();
  std::vector<std::vector<int64_t>> cols(static_cast<size_t>(B));
  for (int64_t r = 0; r < B; ++r) {
    const auto& seq = sequences[indices[static_cast<size_t>(r)]];
    if (seq.empty()) throw Error("collate: example " + std::to_string(indices[static_cast<size_t>(r)]) + " has no tokens");
    auto& c = cols[static_cast<size_t>(r)];
    c.resize(seq.size());
    std::iota(c.begin(), c.end(), 0);
    std::copy(seq.begin(), seq.end(), ids + r * S);
    std::fill(mask + r * S, mask + r * S + static_cast<int64_t>(seq.size()), 1);
  }
  fill_packed(b, cols, ids, nullptr, nullptr, pin_memory);
  if (!labels.empty()) {
    b.labels = host_tensor({B}, torch::kLong, pin_memory);
    int64_t* out = b.labels.data_ptr<int64_t>();
    for (int64_t r = 0; r < B; ++r) out[r] = labels.at(indices[static_cast<size_t>(r)]);
  }
  return b;
}

Batch pack_padded(const torch::Tensor& input_ids, const torch::Tensor& attention_mask, const torch::Tensor& token_type_ids,
                  const torch::Tensor& positions) {
  auto host = [](const torch::Tensor& t) {
    return t.defined() ? t.to(torch::kCPU, torch::kLong).contiguous() : t;
  };
  Batch b;
  b.input_ids = input_ids;
  b.attention_mask = attention_mask;
  b.max_length = input_ids.size(1);
  const int64_t B = input_ids.size(0), S = b.max_length;
  const torch::Tensor ids = host(input_ids), mask = host(attention_mask), types = host(token_type_ids), pos = host(positions);
  const int64_t* m = mask.data_ptr<int64_t>();
  std::vector<std::vector<int64_t>> cols(static_cast<size_t>(B));
  for (int64_t r = 0; r < B; ++r) {
    for (int64_t c = 0; c < S; ++c)
      if (m[r * S + c] != 0) cols[static_cast<size_t>(r)].push_back(c);
    if (cols[static_cast<size_t>(r)].empty()) throw Error("row " + std::to_string(r) + " of the batch has no token (all masked)");
  }
  fill_packed(b, cols, ids.data_ptr<int64_t>(), pos.defined() ? pos.data_ptr<int64_t>() : nullptr,
              types.defined() ? types.data_ptr<int64_t>() : nullptr, false);
  return b.to(input_ids.device());
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
