// Portable randomness: std::mt19937_64's output sequence is fixed by the standard, but
// std::uniform_int_distribution and std::shuffle are not, so a seed would give different
// subsets or bootstrap samples under libstdc++ and libc++. Everything seeded goes through here.
#pragma once
#include <cstdint>
#include <random>
#include <vector>

namespace ft {

// Uniform integer in [0, n), unbiased; n must be > 0.
uint64_t uniform_below(std::mt19937_64& rng, uint64_t n);

// k distinct indices out of [0, n), chosen by a partial Fisher–Yates shuffle, returned sorted.
std::vector<size_t> sample_without_replacement(size_t n, size_t k, uint64_t seed);

// A seeded random permutation of [0, n).
std::vector<size_t> permutation(size_t n, uint64_t seed);

}  // namespace ft
