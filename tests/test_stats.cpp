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

// n per-example differences: `plus` at +1, `minus` at −1, the rest 0 (as paired outcomes are).
std::vector<double> diffs(int n, int plus, int minus) {
  std::vector<double> d(static_cast<size_t>(n), 0.0);
  for (int i = 0; i < plus; ++i) d[static_cast<size_t>(i)] = 1;
  for (int i = 0; i < minus; ++i) d[static_cast<size_t>(n - 1 - i)] = -1;
  return d;
}

TEST(Stats, InsideMarginIsStrict) {
  EXPECT_TRUE(inside_margin(-0.009, 0.009, 0.01));
  EXPECT_FALSE(inside_margin(-0.01, 0.005, 0.01));   // touching the margin is not inside
  EXPECT_FALSE(inside_margin(-0.005, 0.0101, 0.01));
  EXPECT_FALSE(inside_margin(0.02, 0.03, 0.01));
}

TEST(Stats, TostHandCheckedCases) {
  // Hand check by the normal approximation: the 90% interval is mean ± 1.645·sqrt(var/n), with
  // var = E[d²] − mean² over the 1000 examples.
  auto half_width = [](double mean, double mean_sq) { return 1.645 * std::sqrt((mean_sq - mean * mean) / 1000); };
  // Inside: 5 examples each way, mean 0, half width 1.645·sqrt(0.01/1000) = 0.52 pp < 1 pp.
  const Equivalence inside = tost_equivalence(diffs(1000, 5, 5), 0.01);
  EXPECT_DOUBLE_EQ(inside.ci.diff, 0.0);
  EXPECT_DOUBLE_EQ(inside.ci.confidence, 0.9);
  EXPECT_NEAR(inside.ci.hi, half_width(0, 0.01), 0.0015);
  EXPECT_NEAR(inside.ci.lo, -half_width(0, 0.01), 0.0015);
  EXPECT_TRUE(inside.equivalent);
  // Straddling: 10 only-arm-right, mean +1.0 pp, interval about [0.48, 1.52] pp across +1 pp.
  const Equivalence straddle = tost_equivalence(diffs(1000, 10, 0), 0.01);
  EXPECT_DOUBLE_EQ(straddle.ci.diff, 0.01);
  EXPECT_NEAR(straddle.ci.lo, 0.01 - half_width(0.01, 0.01), 0.0015);
  EXPECT_LT(straddle.ci.lo, 0.01);
  EXPECT_GT(straddle.ci.hi, 0.01);
  EXPECT_FALSE(straddle.equivalent);
  // Outside: mean +5 pp, interval about [3.9, 6.1] pp, wholly past the margin.
  const Equivalence outside = tost_equivalence(diffs(1000, 50, 0), 0.01);
  EXPECT_NEAR(outside.ci.lo, 0.05 - half_width(0.05, 0.05), 0.003);
  EXPECT_GT(outside.ci.lo, 0.01);
  EXPECT_FALSE(outside.equivalent);
  // A wider margin makes the straddling case equivalent.
  EXPECT_TRUE(tost_equivalence(diffs(1000, 10, 0), 0.02).equivalent);
  // Underpowered: 1 discordant pair in 100 passes "CI contains 0" yet is not shown equivalent.
  const auto few = tost_equivalence(diffs(100, 1, 0), 0.01);
  EXPECT_LE(few.ci.lo, 0.0);
  EXPECT_FALSE(few.equivalent);
  EXPECT_THROW(tost_equivalence(diffs(10, 1, 0), 0.0), ft::Error);
  EXPECT_THROW(tost_equivalence(diffs(10, 1, 0), 0.01, 100, 1, 0.5), ft::Error);
}

TEST(Stats, BootstrapMeanIsThePairedBootstrapOnOutcomes) {
  std::vector<int64_t> labels(300), pred_a(300), pred_b(300);
  std::vector<double> outcomes(300);
  for (int i = 0; i < 300; ++i) {
    labels[i] = i % 2;
    pred_a[i] = i % 7 == 0 ? 1 - labels[i] : labels[i];
    pred_b[i] = i % 5 == 0 ? 1 - labels[i] : labels[i];
    outcomes[i] = (pred_a[i] == labels[i]) - (pred_b[i] == labels[i]);
  }
  const auto paired = paired_bootstrap_accuracy_diff(labels, pred_a, pred_b, 2000, 11);
  const auto mean = bootstrap_mean(outcomes, 2000, 11);
  EXPECT_EQ(paired.diff, mean.diff);
  EXPECT_EQ(paired.lo, mean.lo);
  EXPECT_EQ(paired.hi, mean.hi);
  const auto constant = bootstrap_mean(std::vector<double>(50, -0.25), 500, 3);
  EXPECT_EQ(constant.lo, -0.25);
  EXPECT_EQ(constant.hi, -0.25);
  EXPECT_THROW(bootstrap_mean({}), ft::Error);
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

TEST(Stats, CalibrationHandComputed) {
  // Confidences 0.9 (bin 13 of 15) and 0.7 (bin 10); one of the 0.9s is wrong.
  ft::report::CalibrationInputs x;
  x.confidence = {0.9, 0.9, 0.7, 0.7};
  x.correct = {1, 0, 1, 1};
  x.p_true = {0.9, 0.1, 0.7, 0.7};
  const ft::report::Calibration c = ft::report::calibration(x);
  // Bin 13: accuracy 0.5, confidence 0.9, weight 2/4; bin 10: accuracy 1, confidence 0.7, weight 2/4.
  EXPECT_NEAR(c.ece, 0.5 * 0.4 + 0.5 * 0.3, 1e-12);
  EXPECT_NEAR(c.brier, (0.01 + 0.81 + 0.09 + 0.09) / 4, 1e-12);
  EXPECT_NEAR(c.nll, -(std::log(0.9) + std::log(0.1) + 2 * std::log(0.7)) / 4, 1e-12);
  // A bootstrap draw is a multiset of indices.
  const std::vector<size_t> twice_first = {0, 0};
  EXPECT_NEAR(ft::report::calibration(x, &twice_first).ece, 0.1, 1e-12);

  // Against itself every difference is exactly 0; an overconfident copy has the larger ECE throughout.
  const auto same = ft::report::paired_calibration_bootstrap(x, x, 500, 1);
  EXPECT_EQ(same.ece_diff.lo, 0);
  EXPECT_EQ(same.ece_diff.hi, 0);
  EXPECT_DOUBLE_EQ(same.ece_a.diff, c.ece);
  ft::report::CalibrationInputs calibrated, overconfident;
  for (int i = 0; i < 400; ++i) {
    const bool right = i % 10 < 7;  // 70% right
    calibrated.confidence.push_back(0.7);
    calibrated.p_true.push_back(right ? 0.7 : 0.3);
    calibrated.correct.push_back(right);
    overconfident.confidence.push_back(0.99);
    overconfident.p_true.push_back(right ? 0.99 : 0.01);
    overconfident.correct.push_back(right);
  }
  const auto cmp = ft::report::paired_calibration_bootstrap(calibrated, overconfident, 1000, 7);
  EXPECT_NEAR(cmp.a.ece, 0.0, 1e-12);
  EXPECT_NEAR(cmp.b.ece, 0.29, 1e-12);
  EXPECT_LT(cmp.ece_diff.hi, 0);
  EXPECT_LT(cmp.nll_diff.hi, 0);
  EXPECT_LE(cmp.ece_a.lo, cmp.a.ece + 1e-12);
  EXPECT_THROW(ft::report::paired_calibration_bootstrap(x, calibrated), ft::Error);
}

TEST(Stats, DispersionPermutationTestHandCounted) {
  // Deviations from each mean: a {1,0,1}, b {10,0,10}. Of the 20 ways to put 3 of the 6 pooled
  // deviations in a, 4 give a sum <= 2 (no 10 among them), 18 a sum >= 2.
  const auto t = ft::report::dispersion_permutation_test({1, 2, 3}, {0, 10, 20});
  EXPECT_TRUE(t.exact);
  EXPECT_EQ(t.permutations, 20);
  EXPECT_NEAR(t.statistic, 2.0 / 3 - 20.0 / 3, 1e-12);
  EXPECT_DOUBLE_EQ(t.p_less, 4.0 / 20);
  EXPECT_DOUBLE_EQ(t.p_greater, 18.0 / 20);
  // Swapped, the tails swap.
  const auto u = ft::report::dispersion_permutation_test({0, 10, 20}, {1, 2, 3});
  EXPECT_DOUBLE_EQ(u.p_greater, 4.0 / 20);
  // Five seeds each, a tight and a wide arm: the one extreme split of C(10,5) = 252 (and its tie).
  const auto w = ft::report::dispersion_permutation_test({0.90, 0.901, 0.899, 0.9005, 0.8995}, {0.85, 0.95, 0.80, 1.0, 0.90});
  EXPECT_EQ(w.permutations, 252);
  EXPECT_LE(w.p_less, 0.05);
  EXPECT_THROW(ft::report::dispersion_permutation_test({1}, {1, 2}), ft::Error);
}

}  // namespace
