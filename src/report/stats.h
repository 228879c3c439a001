// Significance tests and summaries for comparing two fine-tuned models on the same examples.
#pragma once
#include <cstddef>
#include <cstdint>
#include <functional>
#include <vector>

namespace ft::report {

struct McNemarResult {
  int64_t b = 0;  // A right, B wrong
  int64_t c = 0;  // A wrong, B right
  double p_value = 1.0;
};

// Exact McNemar test on paired predictions. Throws ft::Error on mismatched lengths.
McNemarResult mcnemar_exact(const std::vector<int64_t>& labels, const std::vector<int64_t>& pred_a,
                            const std::vector<int64_t>& pred_b);

// Two-sided exact binomial p: min(1, 2 P(X <= min(b, c))), X ~ Bin(b + c, 1/2); 1 when b + c == 0.
// The binomial coefficient is carried with a separate binary exponent, so nothing overflows or
// underflows early and precision holds for b + c up to 1e6 and beyond; O(min(b, c)) time.
double mcnemar_exact_p(int64_t b, int64_t c);

// Per example: 1 when only A is right, −1 when only B is right, 0 otherwise; their mean is
// acc(A) − acc(B). Throws ft::Error on mismatched lengths.
std::vector<double> paired_differences(const std::vector<int64_t>& labels, const std::vector<int64_t>& pred_a,
                                       const std::vector<int64_t>& pred_b);

struct BootstrapCI {
  double diff = 0;        // acc(A) - acc(B) on the examples as given
  double lo = 0, hi = 0;  // percentile interval of the resampled differences
  int resamples = 0;
  uint64_t seed = 0;
  double confidence = 0;
};

// Paired bootstrap: resamples examples with replacement (the same draw for both models) and
// takes the percentile interval of acc(A) - acc(B), with linear interpolation between order
// statistics (numpy's default). Deterministic by seed on every platform.
BootstrapCI paired_bootstrap_accuracy_diff(const std::vector<int64_t>& labels, const std::vector<int64_t>& pred_a,
                                           const std::vector<int64_t>& pred_b, int resamples = 10000,
                                           uint64_t seed = 42, double confidence = 0.95);

// Percentile bootstrap of the mean of per-example values (resampled with replacement), with the
// same draws and interpolation as paired_bootstrap_accuracy_diff, which is this on
// paired_differences. Other paired statistics reduce to it too: the
// mean over seeds of paired_differences, or a difference of accuracy drops per example.
BootstrapCI bootstrap_mean(const std::vector<double>& values, int resamples = 10000, uint64_t seed = 42,
                           double confidence = 0.95);

// Student's t quantile: the t with P(T <= t) = p at `df` degrees of freedom (any real df > 0, as
// Welch–Satterthwaite gives; the normal quantile beyond 1e7). Throws ft::Error for p outside (0, 1)
// or df <= 0.
double student_t_quantile(double p, double df);

// --- Training runs as a source of variance (docs/statistics.md) ---
//
// A figure of one training run's test examples: writes `figures` values for seed index `seed`,
// computed on the multiset `sample` of that run's example indices (nullptr: all of them). A paired
// figure (arm − baseline) reads both arms' runs of that seed on the same sample.
using RunStatistic = std::function<void(size_t seed, const std::vector<size_t>* sample, double* out)>;

// The mean over S training runs (seeds) of a per-run figure, with a spread that covers both the
// test sample and the training run (Bouthillier et al. 2021).
struct RunsEstimate {
  double point = 0;  // mean over seeds of the figure on all examples
  int seeds = 0;
  // S >= 2: standard error, its seed part (from the S per-run figures: S − 1 degrees of freedom)
  // and its Welch–Satterthwaite degrees of freedom; 0 with one seed.
  double se = 0, se_seed = 0, df = 0;
  std::vector<double> replicates;  // the bootstrap's values, sorted
  int resamples = 0;
  uint64_t seed = 0;

  bool covers_training_runs() const { return seeds >= 2; }
  // S >= 2: point ± t(df)·se. One seed: the percentile interval of the example bootstrap, which
  // covers the test sample only.
  BootstrapCI interval(double confidence) const;
};

// Two-level bootstrap: each resample draws S seed indices with replacement, then examples with
// replacement within them — one draw for every seed when all runs scored the same examples
// (`shared_examples`; the test sample's noise is then common to the runs), else a draw within each
// drawn run. Both arms of a paired figure see the same seed index and the same example draw. With
// few seeds the resampled spread falls short ((S − 1)/S of the seed variance, normal rather than t
// tails: three seeds' [min, max] covers 75%), so for S >= 2 the seed part of the variance is taken
// at its unbiased value and the interval uses Student's t at the Welch–Satterthwaite degrees of
// freedom of the seed part (S − 1) and the example part. One seed: no seed draw, the plain example
// bootstrap. Deterministic by seed. Throws ft::Error on no seeds, a seed without examples, unequal
// sizes under shared_examples, or resamples < 1.
std::vector<RunsEstimate> two_level_bootstrap(const std::vector<size_t>& examples_per_seed, bool shared_examples,
                                              size_t figures, const RunStatistic& statistic, int resamples = 10000,
                                              uint64_t seed = 42);
// The figure "mean of per-example values" (per_seed[s][i]: run s, example i).
RunsEstimate two_level_bootstrap_mean(const std::vector<std::vector<double>>& per_seed, bool shared_examples,
                                      int resamples = 10000, uint64_t seed = 42);

// Two one-sided tests (TOST) for equivalence at level alpha, by the interval method: the
// difference is equivalent within ±margin iff its (1 − 2·alpha) interval (90% for alpha 0.05)
// lies strictly inside (−margin, +margin).
struct Equivalence {
  BootstrapCI ci;  // at confidence 1 − 2·alpha
  double margin = 0;
  bool equivalent = false;
};
bool inside_margin(double lo, double hi, double margin);
Equivalence tost_equivalence(const std::vector<double>& per_example_diffs, double margin, int resamples = 10000,
                             uint64_t seed = 42, double alpha = 0.05);

// Calibration of predicted probabilities (Guo et al. 2017's measures) on labelled examples.
struct CalibrationInputs {
  std::vector<double> confidence;  // probability of the predicted label
  std::vector<double> p_true;      // probability of the true label
  std::vector<int8_t> correct;     // prediction == label
  size_t size() const { return confidence.size(); }
};
struct Calibration {
  double ece = 0;    // 15 equal-width confidence bins (b/15, (b+1)/15]: Σ (n_b/n)·|accuracy_b − mean confidence_b|
  double brier = 0;  // mean (1 − p_true)²: sklearn's brier_score_loss on the true class
  double nll = 0;    // mean −ln p_true (p_true clamped at 1e-12)
};
// The bin of a confidence: b holds (b/bins, (b+1)/bins]; a confidence of exactly 0 goes to the first.
int calibration_bin(double confidence, int bins);
// On all examples, or on the multiset `sample` of their indices (a bootstrap draw).
Calibration calibration(const CalibrationInputs& x, const std::vector<size_t>* sample = nullptr, int bins = 15);

// Paired percentile bootstrap over examples (the same draws for both, as bootstrap_mean draws them):
// intervals of each figure of a and of b, and of a − b. Throws ft::Error when the sizes differ.
struct CalibrationBootstrap {
  Calibration a, b;
  BootstrapCI ece_a, ece_b, ece_diff, brier_a, brier_b, brier_diff, nll_a, nll_b, nll_diff;
};
CalibrationBootstrap paired_calibration_bootstrap(const CalibrationInputs& a, const CalibrationInputs& b, int resamples = 10000,
                                                  uint64_t seed = 42, double confidence = 0.95);

// Is a's spread across seeds smaller than b's? An exact permutation test (Monte Carlo with 200,000
// seeded draws past 22 values in all) on the absolute deviations of each sample from its own mean,
// statistic mean|dev a| − mean|dev b|. p_less: share of relabellings with a statistic <= the observed
// one (small when a is less spread); p_greater: >= (small when a is more spread). Needs 2+ values each.
struct DispersionTest {
  double statistic = 0, p_less = 1, p_greater = 1;
  int64_t permutations = 0;
  bool exact = true;
};
DispersionTest dispersion_permutation_test(const std::vector<double>& a, const std::vector<double>& b, uint64_t seed = 42);

struct MeanStd {
  double mean = 0;
  double std = 0;  // sample standard deviation (n - 1); 0 when n == 1
  int n = 0;
};

// Throws ft::Error when `values` is empty.
MeanStd mean_std(const std::vector<double>& values);

}  // namespace ft::report
