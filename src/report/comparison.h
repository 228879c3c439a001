// Full fine-tuning vs LoRA (or any arms) from the run folders `finetune train` writes: per-arm
// means over seeds, reductions against a baseline arm, paired significance tests on the eval
// predictions, and a verdict for each of the study's claims.
//
// A run folder holds results.json (required), trainer_state.json (loss curves, for the
// dashboard) and predictions.tsv (id, label, prediction, probability; for the paired tests).
//
// Verdict rules (each verdict compares one arm with the baseline; "holds" is null when the
// inputs cannot decide it, "status" says it in words and "evidence" says why). Every interval a
// verdict uses is of a mean over the seeds both arms ran, paired by seed and by example: with two or
// more such seeds a two-level bootstrap (seeds, then examples; stats.h two_level_bootstrap) that
// covers training-run and test-set noise ("covers": "training runs (seeds) and test examples"); with
// one, the bootstrap over that run's test examples, which covers test-set noise only: its verdicts
// read "holds for this one training run" / "does not hold for this one training run" ("covers":
// "test examples of one training run per arm"). See docs/statistics.md.
//   trainable parameters reduced >= 99%: 100·(base − arm)/base >= 99 on the mean counts.
//   accuracy equal within noise: the `confidence` interval of acc(arm) − acc(base) contains 0; with
//     one seed also McNemar exact p >= alpha (0.05). Null when no seed has predictions from both arms.
//   accuracy equivalent within ±margin (TOST, margin 1.0 pp by default): the (1 − 2·alpha) = 90%
//     interval of acc(arm) − acc(base) lies strictly inside (−margin, +margin).
//   degrades less under perturbation X (from <run>/robustness/robustness.json, which `finetune
//     robustness` writes): per example, (clean − perturbed correctness of the arm) − (the same for
//     the baseline) gives acc-drop(arm) − acc-drop(base); holds when its interval lies entirely below 0,
//     does not hold when entirely above 0, null (undecided) otherwise.
//   better calibrated (ECE): the interval of ECE(arm) − ECE(base) lies below 0 (holds), above 0 (does
//     not hold), else undecided.
//   smaller generalization gap: per shared seed gap(arm) − gap(base), a per-run figure: over two or
//     more seeds its interval lies below 0 (holds) or above (does not hold), else undecided; one seed:
//     the arm's gap is lower, for that run.
//   more stable across seeds (accuracy): with 3+ seeds per arm, the exact permutation test on absolute
//     deviations from each arm's mean gives p(less spread) <= alpha (holds) or p(more spread) <=
//     alpha (does not hold), else undecided; below 3 seeds undecided.
//   A learning-rate sweep (an arm's runs at several learning rates) keeps the rate whose final model
//     scored best on the validation set (mean over seeds); without a validation set it is an error.
//   memory reduced / faster: the arm's median over seeds is below the baseline's by more than
//     resource_margin (5%) of it and, with >= 2 runs each, every arm run is below every baseline run
//     (the run-to-run spread; 1 chance in 20 for 3 vs 3 runs of one distribution); past the margin
//     but overlapping: undecided; within the margin: does not hold. One run each: the margin alone,
//     "for this one training run". Null when the two arms ran on different devices, measured memory
//     differently, or (time) ran with different numbers of runs sharing the machine.
// An arm of the baseline's own method (an lr sweep, pretrained vs random init) gets only the
// accuracy verdict: the other claims are about what changing the method costs and gains.
#pragma once
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace ft::report {

struct RunInfo {
  std::string arm;
  int64_t seed = 0;
  std::string dir;  // the folder holding results.json
};

struct ComparisonOptions {
  std::string baseline_arm;  // empty: the first arm whose method is "full"
  int bootstrap_resamples = 10000;
  uint64_t bootstrap_seed = 42;
  double confidence = 0.95;
  double alpha = 0.05;  // McNemar significance level for "equal within noise"; TOST level
  double equivalence_margin = 0.01;  // TOST margin on acc(arm) − acc(base), as a fraction (0.01 = 1 pp)
  double resource_margin = 0.05;  // "memory reduced" / "faster" need the median lower by more than this fraction
};

// Every results.json below `root` (recursively), with arm and seed read from it, ordered by
// folder path so the result does not depend on directory listing order. Throws ft::Error when
// root is not a directory, when none is found, or when a results.json lacks arm or seed.
std::vector<RunInfo> discover_runs(const std::string& root);

// The comparison.json document:
//   baseline, options (bootstrap_resamples, bootstrap_seed, confidence, alpha, equivalence_margin,
//     resource_margin),
//   runs: [{arm, seed, method, dir, learning_rate, selection_set, machine, concurrent_runs, accuracy, f1}],
//   arms (baseline first): [{arm, method, model, device, memory_source, seeds, n_runs, concurrent_runs
//     (the most runs that shared the machine with one of its runs),
//     metrics: {trainable_params, total_params, trainable_percent, peak_memory_bytes,
//               train_runtime_s, checkpoint_bytes, parameter_bytes, gradient_bytes,
//               optimizer_state_bytes, accuracy, f1, eval_loss, train_loss, generalization_gap}
//               each {mean, n, median, min, max, std (only when n > 1)} or null when not
//               measured in every run,
//     intervals (when every run has predictions): {accuracy, f1}, interval objects (below) of the
//       arm's mean over its seeds,
//     reduction_percent: {trainable_params, peak_memory_bytes, train_runtime_s,
//                         checkpoint_bytes} vs the baseline (on medians), null when not comparable}],
//   pairs: [{arm, baseline, seed, n, mcnemar {b: arm right & baseline wrong, c: the reverse,
//            p_value}, bootstrap {diff = acc(arm) − acc(baseline), lo, hi, ...},
//            equivalence {lo, hi, confidence (1 − 2·alpha), inside}}]
//          ({arm, baseline, seed, missing} when a predictions.tsv is absent): one seed's test examples,
//   accuracy_over_seeds: [{arm, baseline, ci, equivalence}], the verdicts' intervals, each an interval
//     object {diff, lo, hi, confidence, resamples, seed, seeds, method, and with seeds >= 2: se,
//     se_seed (its seed part), df (null when there is no spread)},
//   robustness (only when a run has robustness.json): {perturbations: [{perturbation, name, rate,
//     seed}], runs: [{arm, seed, perturbation_seed, clean_accuracy, results: [{perturbation,
//     accuracy, drop, changed}]}], pairs: [{arm, baseline, perturbation, seeds, n, drop_arm, drop_baseline,
//     mcnemar (per seed, on the perturbed set): [{seed, b, c, p_value}], bootstrap: an interval
//     object of drop_arm − drop_baseline}]},
//   sweeps (only when an arm ran at several learning rates): [{arm, parameter, metric, set, chosen,
//     values: [{learning_rate, seeds, score, chosen}]}] (runs lists only the chosen runs),
//   calibration (only when predictions carry label_probability): {bins, runs: [{arm, seed, ece, brier,
//     nll (each {value, lo, hi}), reliability: [{lo, hi, count, accuracy, confidence}]}],
//     pairs: [{arm, baseline, seed, ece_diff, brier_diff, nll_diff}] (one seed's test examples),
//     over_seeds: [{arm, baseline, ece_diff, brier_diff, nll_diff}] (interval objects)},
//   stability: [{arm, baseline, metric, std_arm, std_baseline, n_arm, n_baseline, statistic, p_less,
//     p_greater, permutations, exact}] (arms of another method with 3+ seeds each),
//   verdicts: [{arm, baseline, claim, holds (true/false/null), status, covers (claims about noise),
//     evidence}].
// Throws ft::Error naming the file for a missing or malformed results.json or
// predictions.tsv, for two runs with the same arm and seed, or for an unknown baseline arm.
nlohmann::json build_comparison(const std::vector<RunInfo>& runs, const ComparisonOptions& options = {});

// What `finetune report` and `finetune compare` produce, all written atomically into out_dir:
// comparison.json, report.md, dashboard.png, tradeoff.png and (with robustness or calibration figures)
// robustness.png. The text outputs are written before the charts, so they survive a missing gnuplot
// (which still throws ft::Error).
nlohmann::json write_comparison_outputs(const std::string& out_dir, const std::vector<RunInfo>& runs,
                                        const ComparisonOptions& options = {});

// One line per verdict: "lora vs full: <claim>: <status> — <evidence>".
std::string verdict_lines(const nlohmann::json& comparison);

}  // namespace ft::report
