#include "core/random.h"

#include <algorithm>
#include <numeric>
#include <stdexcept>

namespace ft {
namespace {

// High and low 64 bits of a 64x64-bit product, without relying on the non-standard __int128.
void mul_64x64(uint64_t a, uint64_t b, uint64_t& hi, uint64_t& lo) {
  const uint64_t a_lo = a & 0xffffffffu, a_hi = a >> 32;
  const uint64_t b_lo = b & 0xffffffffu, b_hi = b >> 32;
  const uint64_t ll = a_lo * b_lo, lh = a_lo * b_hi, hl = a_hi * b_lo, hh = a_hi * b_hi;
  const uint64_t mid = (ll >> 32) + (lh & 0xffffffffu) + (hl & 0xffffffffu);
  lo = (mid << 32) | (ll & 0xffffffffu);
  hi = hh + (lh >> 32) + (hl >> 32) + (mid >> 32);
}

}  // namespace

uint64_t uniform_below(std::mt19937_64& rng, uint64_t n) {
  if (n == 0) throw std::invalid_argument("uniform_below: n must be positive");
  // Lemire's multiply-and-reject: the high word of x*n is uniform over [0, n) once the
  // few low words below 2^64 mod n are rejected; the division runs only on a near miss.
  uint64_t hi, lo;
  mul_64x64(rng(), n, hi, lo);
  if (lo < n) {
    const uint64_t threshold = (0 - n) % n;  // 2^64 mod n
    while (lo < threshold) mul_64x64(rng(), n, hi, lo);
  }
  return hi;
}

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
