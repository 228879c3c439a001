#include "report/stats.h"

#include <algorithm>
#include <cmath>
#include <limits>
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

namespace {

// Regularized incomplete beta I_x(a, b) by its continued fraction (modified Lentz), taken on the
// side where it converges fast.
double incomplete_beta(double x, double a, double b) {
  if (x <= 0) return 0;
  if (x >= 1) return 1;
  if (x > (a + 1) / (a + b + 2)) return 1 - incomplete_beta(1 - x, b, a);
  const double front = std::exp(std::lgamma(a + b) - std::lgamma(a) - std::lgamma(b) + a * std::log(x) + b * std::log1p(-x)) / a;
  const double tiny = 1e-300;
  double f = 1, c = 1, d = 0;
  for (int i = 0; i <= 400; ++i) {
    const int m = i / 2;
    double numerator;
    if (i == 0) numerator = 1;
    else if (i % 2 == 0) numerator = m * (b - m) * x / ((a + 2 * m - 1) * (a + 2 * m));
    else numerator = -(a + m) * (a + b + m) * x / ((a + 2 * m) * (a + 2 * m + 1));
    d = 1 + numerator * d;
    d = std::fabs(d) < tiny ? tiny : d;
    d = 1 / d;
    c = 1 + numerator / c;
    c = std::fabs(c) < tiny ? tiny : c;
    const double step = c * d;
    f *= step;
    if (std::fabs(1 - step) < 1e-15) break;
  }
  return front * (f - 1);
}

// P(T > t) for t >= 0.
double student_t_upper(double t, double df) { return 0.5 * incomplete_beta(df / (df + t * t), df / 2, 0.5); }

}  // namespace

double student_t_quantile(double p, double df) {
  if (!(p > 0 && p < 1)) throw Error("t quantile: p must be in (0, 1), got " + std::to_string(p));
  if (!(df > 0)) throw Error("t quantile: degrees of freedom must be positive, got " + std::to_string(df));
  if (p < 0.5) return -student_t_quantile(1 - p, df);
  const double upper = 1 - p;
  auto tail = [&](double t) { return df > 1e7 ? 0.5 * std::erfc(t / std::sqrt(2.0)) : student_t_upper(t, df); };
  // The tail falls with t: bracket, then bisect to double precision.
  double lo = 0, hi = 1;
  while (tail(hi) > upper) hi *= 2;
  for (int i = 0; i < 200 && hi - lo > 1e-15 * hi; ++i) {
    const double mid = 0.5 * (lo + hi);
    (tail(mid) > upper ? lo : hi) = mid;
  }
  return 0.5 * (lo + hi);
}

BootstrapCI RunsEstimate::interval(double confidence) const {
  if (!(confidence > 0 && confidence < 1))
    throw Error("bootstrap: confidence must be between 0 and 1, got " + std::to_string(confidence));
  BootstrapCI ci;
  ci.diff = point;
  ci.resamples = resamples;
  ci.seed = seed;
  ci.confidence = confidence;
  const double tail = (1 - confidence) / 2;
  if (seeds < 2) {
    ci.lo = quantile_sorted(replicates, tail);
    ci.hi = quantile_sorted(replicates, 1 - tail);
  } else {
    const double half = se > 0 ? student_t_quantile(1 - tail, df) * se : 0;
    ci.lo = point - half;
    ci.hi = point + half;
  }
  return ci;
}

std::vector<RunsEstimate> two_level_bootstrap(const std::vector<size_t>& examples_per_seed, bool shared_examples,
                                              size_t figures, const RunStatistic& statistic, int resamples, uint64_t seed) {
  const size_t S = examples_per_seed.size();
  if (S == 0) throw Error("bootstrap: no training runs");
  if (resamples < 1) throw Error("bootstrap: resamples must be at least 1, got " + std::to_string(resamples));
  for (size_t n : examples_per_seed) {
    if (n == 0) throw Error("bootstrap: no examples");
    if (shared_examples && n != examples_per_seed.front())
      throw Error("bootstrap: runs that share their examples must have as many each");
  }
  std::vector<double> value(figures);
  // Per figure: each run's value on all its examples, then the resampled means.
  std::vector<std::vector<double>> per_run(figures, std::vector<double>(S));
  for (size_t s = 0; s < S; ++s) {
    statistic(s, nullptr, value.data());
    for (size_t k = 0; k < figures; ++k) per_run[k][s] = value[k];
  }
  std::vector<std::vector<double>> draws(figures, std::vector<double>(static_cast<size_t>(resamples)));
  std::mt19937_64 rng(seed);
  std::vector<size_t> sample, counts(S);
  std::vector<double> sum(figures);
  auto draw_examples = [&](size_t n) {
    sample.resize(n);
    for (size_t& i : sample) i = uniform_below(rng, n);
  };
  for (size_t b = 0; b < static_cast<size_t>(resamples); ++b) {
    std::fill(counts.begin(), counts.end(), 0);
    std::fill(sum.begin(), sum.end(), 0.0);
    // One seed: nothing to draw at the upper level (and the same draws as a plain example bootstrap).
    for (size_t k = 0; k < S; ++k) ++counts[S == 1 ? 0 : uniform_below(rng, S)];
    if (shared_examples || S == 1) draw_examples(examples_per_seed.front());
    for (size_t s = 0; s < S; ++s)
      for (size_t c = 0; c < counts[s]; ++c) {
        if (!shared_examples && S > 1) draw_examples(examples_per_seed[s]);
        statistic(s, &sample, value.data());
        // The same sample for a run drawn twice gives the same value: count it once, weighted.
        const double weight = shared_examples || S == 1 ? static_cast<double>(counts[s]) : 1.0;
        for (size_t f = 0; f < figures; ++f) sum[f] += weight * value[f];
        if (shared_examples || S == 1) break;
      }
    for (size_t f = 0; f < figures; ++f) draws[f][b] = sum[f] / static_cast<double>(S);
  }
  size_t examples = 0;  // distinct examples, for the example part's degrees of freedom
  for (size_t n : examples_per_seed) examples += n;
  if (shared_examples) examples = examples_per_seed.front();
  const bool within = *std::max_element(examples_per_seed.begin(), examples_per_seed.end()) > 1;
  std::vector<RunsEstimate> out(figures);
  for (size_t f = 0; f < figures; ++f) {
    RunsEstimate& e = out[f];
    e.seeds = static_cast<int>(S);
    e.resamples = resamples;
    e.seed = seed;
    const MeanStd runs = mean_std(per_run[f]);
    e.point = runs.mean;
    std::vector<double>& d = draws[f];
    if (S >= 2) {
      const MeanStd spread = mean_std(d);
      // Var(resampled means) = (S − 1)/S · s²/S from the seed draw plus the example part.
      const double seed_unbiased = runs.std * runs.std / static_cast<double>(S);
      const double seed_plugin = seed_unbiased * static_cast<double>(S - 1) / static_cast<double>(S);
      // A run with one value (a per-run figure such as the gap) has nothing to resample within it.
      const double example_part = within ? std::max(0.0, spread.std * spread.std - seed_plugin) : 0.0;
      const double var = seed_unbiased + example_part;
      e.se = std::sqrt(var);
      e.se_seed = std::sqrt(seed_unbiased);
      const double denom = seed_unbiased * seed_unbiased / static_cast<double>(S - 1) +
                           example_part * example_part / static_cast<double>(std::max<size_t>(examples - 1, 1));
      e.df = denom > 0 ? var * var / denom : std::numeric_limits<double>::infinity();
    }
    std::sort(d.begin(), d.end());
    e.replicates = std::move(d);
  }
  return out;
}

RunsEstimate two_level_bootstrap_mean(const std::vector<std::vector<double>>& per_seed, bool shared_examples,
                                      int resamples, uint64_t seed) {
  std::vector<size_t> sizes;
  for (const auto& v : per_seed) sizes.push_back(v.size());
  const RunStatistic mean = [&](size_t s, const std::vector<size_t>* sample, double* out) {
    const std::vector<double>& v = per_seed[s];
    double total = 0;
    if (sample)
      for (size_t i : *sample) total += v[i];
    else
      for (double x : v) total += x;
    *out = total / static_cast<double>(v.size());
  };
  return two_level_bootstrap(sizes, shared_examples, 1, mean, resamples, seed).front();
}

BootstrapCI bootstrap_mean(const std::vector<double>& values, int resamples, uint64_t seed, double confidence) {
  if (values.empty()) throw Error("bootstrap: no examples");
  if (!(confidence > 0 && confidence < 1))
    throw Error("bootstrap: confidence must be between 0 and 1, got " + std::to_string(confidence));
  return two_level_bootstrap_mean({values}, false, resamples, seed).interval(confidence);
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
  // One run of each: the example bootstrap, per figure (ECE, Brier, NLL) a, b and a − b.
  const RunStatistic figures = [&](size_t, const std::vector<size_t>* sample, double* out) {
    const Calibration ca = calibration(a, sample), cb = calibration(b, sample);
    const double fa[3] = {ca.ece, ca.brier, ca.nll}, fb[3] = {cb.ece, cb.brier, cb.nll};
    for (size_t f = 0; f < 3; ++f) {
      out[3 * f] = fa[f];
      out[3 * f + 1] = fb[f];
      out[3 * f + 2] = fa[f] - fb[f];
    }
  };
  const std::vector<RunsEstimate> e = two_level_bootstrap({a.size()}, false, 9, figures, resamples, seed);
  CalibrationBootstrap r;
  r.a = calibration(a);
  r.b = calibration(b);
  BootstrapCI* out[9] = {&r.ece_a, &r.ece_b, &r.ece_diff, &r.brier_a, &r.brier_b, &r.brier_diff, &r.nll_a, &r.nll_b, &r.nll_diff};
  for (size_t d = 0; d < 9; ++d) *out[d] = e[d].interval(confidence);
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
