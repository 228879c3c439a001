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

int calibration_bin(double confidence, int bins) {
  return std::clamp(static_cast<int>(std::ceil(confidence * bins)) - 1, 0, bins - 1);
}

Calibration calibration(const CalibrationInputs& x, const std::vector<size_t>* sample, int bins) {
  const size_t n = sample ? sample->size() : x.size();
  if (n == 0) throw Error("calibration: no examples");
  std::vector<double> count(static_cast<size_t>(bins), 0), conf(static_cast<size_t>(bins), 0), right(static_cast<size_t>(bins), 0);
  Calibration c;
  for (size_t k = 0; k < n; ++k) {
    const size_t i = sample ? (*sample)[k] : k;
    const auto b = static_cast<size_t>(calibration_bin(x.confidence[i], bins));
    count[b] += 1;
    conf[b] += x.confidence[i];
    right[b] += x.correct[i];
    c.brier += (1 - x.p_true[i]) * (1 - x.p_true[i]);
    c.nll -= std::log(std::max(x.p_true[i], 1e-12));
  }
  for (size_t b = 0; b < count.size(); ++b)
    if (count[b] > 0) c.ece += std::fabs(right[b] - conf[b]) / static_cast<double>(n);
  c.brier /= static_cast<double>(n);
  c.nll /= static_cast<double>(n);
  return c;
}

CalibrationBootstrap paired_calibration_bootstrap(const CalibrationInputs& a, const CalibrationInputs& b, int resamples,
                                                  uint64_t seed, double confidence) {
  if (a.size() != b.size() || a.size() == 0)
    throw Error("calibration bootstrap: " + std::to_string(a.size()) + " vs " + std::to_string(b.size()) + " examples");
  if (resamples < 1 || !(confidence > 0 && confidence < 1)) throw Error("calibration bootstrap: bad resamples or confidence");
  CalibrationBootstrap r;
  r.a = calibration(a);
  r.b = calibration(b);
  const size_t n = a.size();
  std::mt19937_64 rng(seed);
  std::vector<size_t> sample(n);
  // Per figure (ECE, Brier, NLL): values of a, of b and of a − b over the resamples.
  std::vector<std::vector<double>> draws(9, std::vector<double>(static_cast<size_t>(resamples)));
  for (size_t k = 0; k < static_cast<size_t>(resamples); ++k) {
    for (size_t& i : sample) i = uniform_below(rng, n);
    const Calibration ca = calibration(a, &sample), cb = calibration(b, &sample);
    const double fa[3] = {ca.ece, ca.brier, ca.nll}, fb[3] = {cb.ece, cb.brier, cb.nll};
    for (size_t f = 0; f < 3; ++f) {
      draws[3 * f][k] = fa[f];
      draws[3 * f + 1][k] = fb[f];
      draws[3 * f + 2][k] = fa[f] - fb[f];
    }
  }
  const double point_a[3] = {r.a.ece, r.a.brier, r.a.nll}, point_b[3] = {r.b.ece, r.b.brier, r.b.nll};
  BootstrapCI* out[9] = {&r.ece_a, &r.ece_b, &r.ece_diff, &r.brier_a, &r.brier_b, &r.brier_diff, &r.nll_a, &r.nll_b, &r.nll_diff};
  const double tail = (1 - confidence) / 2;
  for (size_t d = 0; d < 9; ++d) {
    std::sort(draws[d].begin(), draws[d].end());
    const size_t f = d / 3;
    out[d]->diff = d % 3 == 0 ? point_a[f] : d % 3 == 1 ? point_b[f] : point_a[f] - point_b[f];
    out[d]->lo = quantile_sorted(draws[d], tail);
    out[d]->hi = quantile_sorted(draws[d], 1 - tail);
    out[d]->resamples = resamples;
    out[d]->seed = seed;
    out[d]->confidence = confidence;
  }
  return r;
}

DispersionTest dispersion_permutation_test(const std::vector<double>& a, const std::vector<double>& b, uint64_t seed) {
  if (a.size() < 2 || b.size() < 2) throw Error("dispersion test: needs at least 2 values in each sample");
  auto deviations = [](const std::vector<double>& v) {
    double mean = 0;
    for (double x : v) mean += x;
    mean /= static_cast<double>(v.size());
    std::vector<double> d;
    for (double x : v) d.push_back(std::fabs(x - mean));
    return d;
  };
  std::vector<double> pooled = deviations(a);
  const std::vector<double> db = deviations(b);
  pooled.insert(pooled.end(), db.begin(), db.end());
  const size_t n = pooled.size(), na = a.size();
  double total = 0;
  for (double d : pooled) total += d;
  // The statistic of a relabelling that puts `sum_a` (the sum of na deviations) in a.
  auto statistic = [&](double sum_a) { return sum_a / static_cast<double>(na) - (total - sum_a) / static_cast<double>(n - na); };
  double observed_sum = 0;
  for (size_t i = 0; i < na; ++i) observed_sum += pooled[i];
  DispersionTest t;
  t.statistic = statistic(observed_sum);
  const double eps = 1e-12 * std::max(1.0, std::fabs(t.statistic));  // ties up to rounding count as ties
  int64_t less = 0, greater = 0;
  auto tally = [&](double sum_a) {
    const double s = statistic(sum_a);
    less += s <= t.statistic + eps;
    greater += s >= t.statistic - eps;
    ++t.permutations;
  };
  if (n <= 22) {
    for (uint32_t mask = 0; mask < (1u << n); ++mask) {
      if (static_cast<size_t>(__builtin_popcount(mask)) != na) continue;
      double sum_a = 0;
      for (size_t i = 0; i < n; ++i)
        if (mask >> i & 1u) sum_a += pooled[i];
      tally(sum_a);
    }
  } else {
    t.exact = false;
    for (int k = 0; k < 200000; ++k) {
      double sum_a = 0;
      for (size_t i : sample_without_replacement(n, na, splitmix64(seed + static_cast<uint64_t>(k)))) sum_a += pooled[i];
      tally(sum_a);
    }
  }
  t.p_less = static_cast<double>(less) / static_cast<double>(t.permutations);
  t.p_greater = static_cast<double>(greater) / static_cast<double>(t.permutations);
  return t;
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
