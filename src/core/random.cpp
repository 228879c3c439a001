#include "core/random.h"

#include <algorithm>
#include <numeric>

namespace ft {

namespace {

// The first k entries of a Fisher–Yates shuffle of [0, n).
std::vector<size_t> partial_shuffle(size_t n, size_t k, uint64_t seed) {
  std::vector<size_t> idx(n);
  std::iota(idx.begin(), idx.end(), size_t{0});
  std::mt19937_64 rng(seed);
  for (size_t i = 0; i < k && i + 1 < n; ++i) std::swap(idx[i], idx[i + uniform_below(rng, n - i)]);
  idx.resize(k);
  return idx;
}

}  // namespace

std::vector<size_t> sample_without_replacement(size_t n, size_t k, uint64_t seed) {
  if (k > n) throw std::invalid_argument("sample_without_replacement: k > n");
  std::vector<size_t> idx = partial_shuffle(n, k, seed);
  std::sort(idx.begin(), idx.end());
  return idx;
}

std::vector<size_t> permutation(size_t n, uint64_t seed) { return partial_shuffle(n, n, seed); }

}  // namespace ft
