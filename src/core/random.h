// Portable randomness: std::mt19937_64's output sequence is fixed by the standard, but
// std::uniform_int_distribution and std::shuffle are not, so a seed would give different
// subsets or bootstrap samples under libstdc++ and libc++. Everything seeded goes through here.
#pragma once
#include <cstdint>
#include <random>
#include <stdexcept>
#include <vector>

namespace ft {
namespace detail {

// High and low 64 bits of a 64x64-bit product, without relying on the non-standard __int128.
inline void mul_64x64(uint64_t a, uint64_t b, uint64_t& hi, uint64_t& lo) {
  const uint64_t a_lo = a & 0xffffffffu, a_hi = a >> 32;
  const uint64_t b_lo = b & 0xffffffffu, b_hi = b >> 32;
  const uint64_t ll = a_lo * b_lo, lh = a_lo * b_hi, hl = a_hi * b_lo, hh = a_hi * b_hi;
  const uint64_t mid = (ll >> 32) + (lh & 0xffffffffu) + (hl & 0xffffffffu);
  lo = (mid << 32) | (ll & 0xffffffffu);
  hi = hh + (lh >> 32) + (hl >> 32) + (mid >> 32);
}

}  // namespace detail

// SplitMix64's mixing step: nearby inputs give unrelated outputs, so (seed, position) pairs can be
// turned into independent seeds.
inline uint64_t splitmix64(uint64_t x) {
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

// Uniform integer in [0, n), unbiased; n must be > 0. Inline: the bootstrap draws it ~1e9 times.
inline uint64_t uniform_below(std::mt19937_64& rng, uint64_t n) {
  if (n == 0) throw std::invalid_argument("uniform_below: n must be positive");
  // Lemire's multiply-and-reject: the high word of x*n is uniform over [0, n) once the
  // few low words below 2^64 mod n are rejected; the division runs only on a near miss.
  uint64_t hi, lo;
  detail::mul_64x64(rng(), n, hi, lo);
  if (lo < n) {
    const uint64_t threshold = (0 - n) % n;  // 2^64 mod n
    while (lo < threshold) detail::mul_64x64(rng(), n, hi, lo);
  }
  return hi;
}

// k distinct indices out of [0, n), chosen by a partial Fisher–Yates shuffle, returned sorted.
std::vector<size_t> sample_without_replacement(size_t n, size_t k, uint64_t seed);

// A seeded random permutation of [0, n).
std::vector<size_t> permutation(size_t n, uint64_t seed);

}  // namespace ft
