#include "core/random.h"

#include <algorithm>
#include <numeric>

namespace ft {

std::vector<size_t> sample_without_replacement(size_t n, size_t k, uint64_t seed) {
  if (k > n) throw std::invalid_argument("sample_without_replacement: k > n");
  std::vector<size_t> idx(n);
  std::iota(idx.begin(), idx.end(), size_t{0});
  std::mt19937_64 rng(seed);
  for (size_t i = 0; i < k; ++i) std::swap(idx[i], idx[i + uniform_below(rng, n - i)]);
  idx.resize(k);
  std::sort(idx.begin(), idx.end());
  return idx;
}

}  // namespace ft
