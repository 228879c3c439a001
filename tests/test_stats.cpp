#include <gtest/gtest.h>

#include <cmath>

#include "core/error.h"
#include "report/stats.h"

namespace {

using namespace ft::report;

// Two-sided normal p-value with continuity correction, the usual large-sample McNemar.
double mcnemar_normal_p(int64_t b, int64_t c) {
  const double z = (std::abs(static_cast<double>(b - c)) - 1) / std::sqrt(static_cast<double>(b + c));
  return std::erfc(z / std::sqrt(2.0));
}

TEST(Stats, McNemarSmallTablesByHand) {
  EXPECT_DOUBLE_EQ(mcnemar_exact_p(1, 5), 2.0 * (1 + 6) / 64);  // C(6,0) + C(6,1) = 7
  EXPECT_DOUBLE_EQ(mcnemar_exact_p(5, 1), 0.21875);
  EXPECT_DOUBLE_EQ(mcnemar_exact_p(0, 6), 2.0 / 64);
  EXPECT_DOUBLE_EQ(mcnemar_exact_p(2, 3), 1.0);  // 2 * (1 + 5 + 10) / 32
  EXPECT_EQ(mcnemar_exact_p(3, 3), 1.0);
  EXPECT_EQ(mcnemar_exact_p(40, 40), 1.0);
  EXPECT_EQ(mcnemar_exact_p(0, 0), 1.0);
  EXPECT_DOUBLE_EQ(mcnemar_exact_p(0, 1), 1.0);
  // C(30, i) summed for i <= 10, over 2^30, doubled.
  double sum = 0, binom = 1;
  for (int i = 0; i <= 10; ++i, binom = binom * (30 - i + 1) / i) sum += binom;
  EXPECT_NEAR(mcnemar_exact_p(10, 20), 2 * sum / std::ldexp(1.0, 30), 1e-15);
  EXPECT_THROW(mcnemar_exact_p(-1, 3), ft::Error);
}

TEST(Stats, McNemarLargeTablesMatchNormalApproximation) {
  // With p = 1/2 the binomial is symmetric and the continuity-corrected normal is close.
  EXPECT_NEAR(mcnemar_exact_p(4900, 5100), mcnemar_normal_p(4900, 5100), 2e-4);
  EXPECT_NEAR(mcnemar_exact_p(499000, 501000), mcnemar_normal_p(499000, 501000), 2e-5);
  EXPECT_NEAR(mcnemar_exact_p(499500, 500500), mcnemar_normal_p(499500, 500500), 2e-5);
  EXPECT_EQ(mcnemar_exact_p(500000, 500000), 1.0);
  // Reference values from scipy.stats.binomtest(k, n, 0.5).pvalue.
  EXPECT_NEAR(mcnemar_exact_p(4900, 5100) / 0.046585527704947234, 1.0, 1e-11);
  EXPECT_NEAR(mcnemar_exact_p(499000, 501000) / 0.045608299865389515, 1.0, 1e-11);
  EXPECT_NEAR(mcnemar_exact_p(123, 77) / 0.0014016905787957936, 1.0, 1e-12);
}

TEST(Stats, McNemarTinyPValuesDoNotUnderflowEarly) {
  // 2 * 2^-1000: far below what a direct sum of C(n, i) / 2^n could reach.
  EXPECT_NEAR(mcnemar_exact_p(0, 1000) / std::ldexp(1.0, -999), 1.0, 1e-10);
  const double p = mcnemar_exact_p(0, 1000000);  // 2^-999999 is below the smallest double
  EXPECT_EQ(p, 0.0);
}

TEST(Stats, McNemarCountsDiscordantPairs) {
  const std::vector<int64_t> labels = {0, 1, 1, 0, 1, 0, 1, 1};
  const std::vector<int64_t> pred_a = {0, 1, 1, 1, 0, 0, 1, 1};  // wrong on 3, 4
  const std::vector<int64_t> pred_b = {1, 0, 1, 1, 1, 0, 0, 0};  // wrong on 0, 1, 3, 6, 7
  const auto r = mcnemar_exact(labels, pred_a, pred_b);
  EXPECT_EQ(r.b, 4);  // A right, B wrong: 0, 1, 6, 7
  EXPECT_EQ(r.c, 1);  // A wrong, B right: 4
  EXPECT_DOUBLE_EQ(r.p_value, 2.0 * (1 + 5) / 32);
  EXPECT_THROW(mcnemar_exact(labels, pred_a, {0, 1}), ft::Error);
  EXPECT_THROW(mcnemar_exact({0, 1}, {0, 1, 1}, {0, 1}), ft::Error);
}

TEST(Stats, BootstrapDegenerateCases) {
  const std::vector<int64_t> labels = {0, 1, 1, 0, 1, 0, 0, 1, 1, 1};
  const std::vector<int64_t> mixed = {0, 1, 0, 0, 0, 1, 0, 1, 1, 0};
  const auto same = paired_bootstrap_accuracy_diff(labels, mixed, mixed, 500, 3);
  EXPECT_EQ(same.diff, 0.0);
  EXPECT_EQ(same.lo, 0.0);
  EXPECT_EQ(same.hi, 0.0);

  std::vector<int64_t> wrong(labels.size());
  for (size_t i = 0; i < labels.size(); ++i) wrong[i] = 1 - labels[i];
  const auto apart = paired_bootstrap_accuracy_diff(labels, labels, wrong, 500, 3);
  EXPECT_EQ(apart.diff, 1.0);
  EXPECT_EQ(apart.lo, 1.0);
  EXPECT_EQ(apart.hi, 1.0);
  EXPECT_EQ(apart.resamples, 500);
  EXPECT_EQ(apart.seed, 3u);
  EXPECT_EQ(apart.confidence, 0.95);
}

TEST(Stats, BootstrapIntervalMatchesKnownDistribution) {
  // 400 examples: A and B both right on half, only A right on the other half. A resample's
  // difference is K/400 with K ~ Bin(400, 1/2), so the interval is that binomial's quantiles.
  const int n = 400;
  std::vector<int64_t> labels(n, 1), pred_a(n, 1), pred_b(n, 1);
  for (int i = 0; i < n; i += 2) pred_b[i] = 0;
  const auto ci = paired_bootstrap_accuracy_diff(labels, pred_a, pred_b, 10000, 42);
  EXPECT_DOUBLE_EQ(ci.diff, 0.5);

  auto binomial_quantile = [n](double q) {  // smallest k with P(K <= k) >= q
    double cdf = 0;
    for (int k = 0; k <= n; ++k) {
      cdf += std::exp(std::lgamma(n + 1.0) - std::lgamma(k + 1.0) - std::lgamma(n - k + 1.0) - n * std::log(2.0));
      if (cdf >= q) return static_cast<double>(k) / n;
    }
    return 1.0;
  };
  // Sampling noise of a 2.5% quantile from 10000 resamples is about 0.0007; the grid step is 0.0025.
  EXPECT_NEAR(ci.lo, binomial_quantile(0.025), 0.005);
  EXPECT_NEAR(ci.hi, binomial_quantile(0.975), 0.005);
  EXPECT_NEAR(ci.lo, 0.5 - 1.96 * 0.025, 0.006);  // normal approximation: sd = sqrt(n/4)/n
  EXPECT_NEAR(ci.hi, 0.5 + 1.96 * 0.025, 0.006);

  const auto narrower = paired_bootstrap_accuracy_diff(labels, pred_a, pred_b, 10000, 42, 0.5);
  EXPECT_GT(narrower.lo, ci.lo);
  EXPECT_LT(narrower.hi, ci.hi);
  EXPECT_NEAR(narrower.lo, 0.5 - 0.6745 * 0.025, 0.005);
}

TEST(Stats, BootstrapIsDeterministicBySeed) {
  std::vector<int64_t> labels(300), pred_a(300), pred_b(300);
  for (int i = 0; i < 300; ++i) {
    labels[i] = i % 2;
    pred_a[i] = i % 7 == 0 ? 1 - labels[i] : labels[i];
    pred_b[i] = i % 5 == 0 ? 1 - labels[i] : labels[i];
  }
  const auto a = paired_bootstrap_accuracy_diff(labels, pred_a, pred_b, 2000, 11);
  const auto b = paired_bootstrap_accuracy_diff(labels, pred_a, pred_b, 2000, 11);
  const auto c = paired_bootstrap_accuracy_diff(labels, pred_a, pred_b, 2000, 12);
  EXPECT_EQ(a.lo, b.lo);
  EXPECT_EQ(a.hi, b.hi);
  EXPECT_TRUE(a.lo != c.lo || a.hi != c.hi);
  EXPECT_EQ(a.diff, c.diff);
  EXPECT_LE(a.lo, a.diff);
  EXPECT_GE(a.hi, a.diff);
}

TEST(Stats, BootstrapRejectsBadInput) {
  const std::vector<int64_t> v = {0, 1};
  EXPECT_THROW(paired_bootstrap_accuracy_diff(v, v, {0}), ft::Error);
  EXPECT_THROW(paired_bootstrap_accuracy_diff({}, {}, {}), ft::Error);
  EXPECT_THROW(paired_bootstrap_accuracy_diff(v, v, v, 0), ft::Error);
  EXPECT_THROW(paired_bootstrap_accuracy_diff(v, v, v, 100, 1, 1.0), ft::Error);
  EXPECT_THROW(paired_bootstrap_accuracy_diff(v, v, v, 100, 1, 0.0), ft::Error);
}

TEST(Stats, MeanStd) {
  const auto r = mean_std({2, 4, 4, 4, 5, 5, 7, 9});
  EXPECT_EQ(r.n, 8);
  EXPECT_DOUBLE_EQ(r.mean, 5.0);
  EXPECT_DOUBLE_EQ(r.std, std::sqrt(32.0 / 7));  // squared deviations sum to 32
  const auto one = mean_std({0.9});
  EXPECT_DOUBLE_EQ(one.mean, 0.9);
  EXPECT_EQ(one.std, 0.0);
  // Large offset, small spread: a one-pass formula would lose the spread.
  const auto shifted = mean_std({1e9 + 1, 1e9 + 2, 1e9 + 3});
  EXPECT_DOUBLE_EQ(shifted.std, 1.0);
  EXPECT_THROW(mean_std({}), ft::Error);
}

}  // namespace
