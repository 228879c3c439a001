#include "report/stats.h"

#include <algorithm>
#include <cmath>
#include <random>
#include <string>

#include "core/error.h"
#include "core/random.h"

namespace ft::report {
namespace {

// Per example: +1 when only A is right, -1 when only B is right, 0 otherwise.
std::vector<int8_t> paired_outcomes(const std::vector<int64_t>& labels, const std::vector<int64_t>& pred_a,
                                    const std::vector<int64_t>& pred_b) {
  if (pred_a.size() != labels.size() || pred_b.size() != labels.size())
    throw Error("paired comparison needs equal lengths: " + std::to_string(labels.size()) + " labels, " +
                std::to_string(pred_a.size()) + " and " + std::to_string(pred_b.size()) + " predictions");
  std::vector<int8_t> out(labels.size());
  for (size_t i = 0; i < labels.size(); ++i) out[i] = (pred_a[i] == labels[i]) - (pred_b[i] == labels[i]);
  return out;
}

// Sorted values at quantile q, interpolating linearly between neighbours.
double quantile_sorted(const std::vector<double>& sorted, double q) {
  const double h = q * static_cast<double>(sorted.size() - 1);
  const size_t below = static_cast<size_t>(std::floor(h));
  if (below + 1 >= sorted.size()) return sorted.back();
  return sorted[below] + (h - static_cast<double>(below)) * (sorted[below + 1] - sorted[below]);
}

}  // namespace

double mcnemar_exact_p(int64_t b, int64_t c) {
  if (b < 0 || c < 0) throw Error("McNemar counts must be non-negative");
  const int64_t n = b + c, k = std::min(b, c);
  if (n == 0) return 1.0;
  // P(X <= k) = C(n,k)/2^n * sum_{i<=k} C(n,i)/C(n,k). Since k <= n/2 the terms shrink going
  // down from i = k, so the sum is accumulated relative to its largest term and cut off once
  // the rest cannot matter.
  double sum = 1.0, term = 1.0;
  for (int64_t i = k; i > 0 && term > 1e-18 * sum; --i) {
    term *= static_cast<double>(i) / static_cast<double>(n - i + 1);
    sum += term;
  }
  // C(n,k)/2^n as mantissa * 2^exponent, since C(n,k) alone overflows and 2^-n underflows.
  // A product of k ratios stays within about k ulps, tighter than lgamma's absolute error
  // once log C(n,k) is in the millions, and exact for small tables.
  double mantissa = 1.0;
  int64_t exponent = -n;
  for (int64_t i = 1; i <= k; ++i) {
    mantissa *= static_cast<double>(n - k + i) / static_cast<double>(i);
    if (mantissa > 0x1p500) {
      int e;
      mantissa = std::frexp(mantissa, &e);
      exponent += e;
    }
  }
  // Below 2^-4000 the result is 0 whatever the mantissa; the clamp keeps the int in range.
  return std::min(1.0, std::ldexp(2.0 * mantissa * sum, static_cast<int>(std::max<int64_t>(exponent, -4000))));
}

McNemarResult mcnemar_exact(const std::vector<int64_t>& labels, const std::vector<int64_t>& pred_a,
                            const std::vector<int64_t>& pred_b) {
  const auto outcomes = paired_outcomes(labels, pred_a, pred_b);
  McNemarResult r;
  r.b = std::count(outcomes.begin(), outcomes.end(), 1);
  r.c = std::count(outcomes.begin(), outcomes.end(), -1);
  r.p_value = mcnemar_exact_p(r.b, r.c);
  return r;
}

std::vector<double> paired_differences(const std::vector<int64_t>& labels, const std::vector<int64_t>& pred_a,
                                       const std::vector<int64_t>& pred_b) {
  const auto outcomes = paired_outcomes(labels, pred_a, pred_b);
  return std::vector<double>(outcomes.begin(), outcomes.end());
}

BootstrapCI bootstrap_mean(const std::vector<double>& values, int resamples, uint64_t seed, double confidence) {
  if (values.empty()) throw Error("bootstrap: no examples");
  if (resamples < 1) throw Error("bootstrap: resamples must be at least 1, got " + std::to_string(resamples));
  if (!(confidence > 0 && confidence < 1))
    throw Error("bootstrap: confidence must be between 0 and 1, got " + std::to_string(confidence));

  const size_t n = values.size();
  auto mean_of = [n](double sum) { return sum / static_cast<double>(n); };
  BootstrapCI ci;
  ci.resamples = resamples;
  ci.seed = seed;
  ci.confidence = confidence;
  double total = 0;
  for (double v : values) total += v;
  ci.diff = mean_of(total);

  std::mt19937_64 rng(seed);
  std::vector<double> means(static_cast<size_t>(resamples));
  for (double& mean : means) {
    double sum = 0;
    for (size_t j = 0; j < n; ++j) sum += values[uniform_below(rng, n)];
    mean = mean_of(sum);
  }
  std::sort(means.begin(), means.end());
  const double tail = (1 - confidence) / 2;
  ci.lo = quantile_sorted(means, tail);
  ci.hi = quantile_sorted(means, 1 - tail);
  return ci;
}

BootstrapCI paired_bootstrap_accuracy_diff(const std::vector<int64_t>& labels, const std::vector<int64_t>& pred_a,
                                           const std::vector<int64_t>& pred_b, int resamples, uint64_t seed,
                                           double confidence) {
  // Sums of -1/0/+1 are exact in a double: the same figures as counting in integers.
  return bootstrap_mean(paired_differences(labels, pred_a, pred_b), resamples, seed, confidence);
}

bool inside_margin(double lo, double hi, double margin) { return -margin < lo && hi < margin; }

Equivalence tost_equivalence(const std::vector<double>& per_example_diffs, double margin, int resamples,
                             uint64_t seed, double alpha) {
  if (!(margin > 0)) throw Error("equivalence margin must be positive, got " + std::to_string(margin));
  if (!(alpha > 0 && alpha < 0.5)) throw Error("TOST alpha must be in (0, 0.5), got " + std::to_string(alpha));
  Equivalence e;
  e.ci = bootstrap_mean(per_example_diffs, resamples, seed, 1 - 2 * alpha);
  e.margin = margin;
  e.equivalent = inside_margin(e.ci.lo, e.ci.hi, margin);
  return e;
}

MeanStd mean_std(const std::vector<double>& values) {
  if (values.empty()) throw Error("mean/std of no values");
  MeanStd r;
  r.n = static_cast<int>(values.size());
  for (double v : values) r.mean += v;
  r.mean /= r.n;
  if (r.n > 1) {
    double squares = 0;  // two passes: no cancellation from subtracting large sums
    for (double v : values) squares += (v - r.mean) * (v - r.mean);
    r.std = std::sqrt(squares / (r.n - 1));
  }
  return r;
}

}  // namespace ft::report
