// Full fine-tuning vs LoRA (or any arms) from the run folders `finetune train` writes: per-arm
// means over seeds, reductions against a baseline arm, paired significance tests on the eval
// predictions, and a verdict for each of the study's claims.
//
// A run folder holds results.json (required), trainer_state.json (loss curves, for the
// dashboard) and predictions.tsv (id, label, prediction, probability; for the paired tests).
//
// Verdict rules (each verdict compares one arm with the baseline; "holds" is null when the
// inputs cannot decide it, and "evidence" says why):
//   trainable parameters reduced >= 99%: 100·(base − arm)/base >= 99 on the mean counts.
//   accuracy equal within noise: every seed shared by both arms has McNemar exact p >= alpha
//     (0.05) AND a paired-bootstrap CI of acc(arm) − acc(base) that contains 0; when both arms
//     have >= 2 seeds, additionally |mean acc(arm) − mean acc(base)| <= sqrt(s_arm² + s_base²)
//     (sample stds over seeds). Null when no seed has predictions from both arms.
//   accuracy equivalent within ±margin (TOST, margin 1.0 pp by default): the (1 − 2·alpha) = 90%
//     paired-bootstrap interval of acc(arm) − acc(base) lies strictly inside (−margin, +margin).
//     One shared seed: that seed's interval; several: the interval of the mean over seeds of the
//     per-example differences (the same bootstrap draw for every seed). Null when no seed has
//     predictions from both arms, or when the seeds scored different examples.
//   degrades less under perturbation X (from <run>/robustness/robustness.json, which `finetune
//     robustness` writes): per example, (clean − perturbed correctness of the arm) − (the same for
//     the baseline), averaged over the shared seeds, gives acc-drop(arm) − acc-drop(base) and its
//     paired-bootstrap interval at `confidence`. Holds when the interval lies entirely below 0,
//     does not hold when entirely above 0, null (undecided) otherwise.
//   better calibrated (ECE): every shared seed's paired-bootstrap interval of ECE(arm) − ECE(base)
//     lies below 0 (holds), every one above 0 (does not hold), else undecided.
//   more stable across seeds (accuracy): with 3+ seeds per arm, the exact permutation test on absolute
//     deviations from each arm's mean gives p(less spread) <= alpha (holds) or p(more spread) <=
//     alpha (does not hold), else undecided; below 3 seeds undecided.
//   A learning-rate sweep (an arm's runs at several learning rates) keeps the rate whose final model
//     scored best on the validation set (mean over seeds); without a validation set it is an error.
//   memory reduced / faster / smaller generalization gap: the arm's mean is below the
//     baseline's; with >= 2 seeds in both arms the difference must also exceed
//     sqrt(s_arm² + s_base²), else it is within run-to-run noise and the claim fails. Memory
//     and time are null when the two arms ran on different devices (or measured memory
//     differently), since the numbers would not be comparable.
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
};

// Every results.json below `root` (recursively), with arm and seed read from it, ordered by
// folder path so the result does not depend on directory listing order. Throws ft::Error when
// root is not a directory, when none is found, or when a results.json lacks arm or seed.
std::vector<RunInfo> discover_runs(const std::string& root);

// The comparison.json document:
//   baseline, options (bootstrap_resamples, bootstrap_seed, confidence, alpha),
//   runs: [{arm, seed, method, dir}],
//   arms (baseline first): [{arm, method, model, device, memory_source, seeds, n_runs,
//     metrics: {trainable_params, total_params, trainable_percent, peak_memory_bytes,
//               train_runtime_s, checkpoint_bytes, accuracy, f1, eval_loss, train_loss,
//               generalization_gap} each {mean, n, std (only when n > 1)} or null when not
//               measured in every run,
//     reduction_percent: {trainable_params, peak_memory_bytes, train_runtime_s,
//                         checkpoint_bytes} vs the baseline, null when not comparable}],
//   pairs: [{arm, baseline, seed, n, mcnemar {b: arm right & baseline wrong, c: the reverse,
//            p_value}, bootstrap {diff = acc(arm) − acc(baseline), lo, hi, ...},
//            equivalence {lo, hi, confidence (1 − 2·alpha), inside}}]
//          ({arm, baseline, seed, missing} when a predictions.tsv is absent),
//   robustness (only when a run has robustness.json): {perturbations: [{perturbation, name, rate,
//     seed}], runs: [{arm, seed, perturbation_seed, clean_accuracy, results: [{perturbation,
//     accuracy, drop, changed}]}], pairs: [{arm, baseline, perturbation, seeds, n, drop_arm, drop_baseline,
//     mcnemar (per seed, on the perturbed set): [{seed, b, c, p_value}], bootstrap {diff =
//     drop_arm − drop_baseline, lo, hi, ...}}]},
//   sweeps (only when an arm ran at several learning rates): [{arm, parameter, metric, set, chosen,
//     values: [{learning_rate, seeds, score, chosen}]}] (runs lists only the chosen runs),
//   calibration (only when predictions carry label_probability): {bins, runs: [{arm, seed, ece, brier,
//     nll (each {value, lo, hi}), reliability: [{lo, hi, count, accuracy, confidence}]}],
//     pairs: [{arm, baseline, seed, ece_diff, brier_diff, nll_diff}]},
//   stability: [{arm, baseline, metric, std_arm, std_baseline, n_arm, n_baseline, statistic, p_less,
//     p_greater, permutations, exact}] (arms of another method with 3+ seeds each),
//   verdicts: [{arm, baseline, claim, holds (true/false/null), evidence}].
// Throws ft::Error naming the file for a missing or malformed results.json or
// predictions.tsv, for two runs with the same arm and seed, or for an unknown baseline arm.
nlohmann::json build_comparison(const std::vector<RunInfo>& runs, const ComparisonOptions& options = {});

// What `finetune report` and `finetune compare` produce, all written atomically into out_dir:
// comparison.json, report.md, dashboard.png, tradeoff.png and (with robustness or calibration figures)
// robustness.png. The text outputs are written before the charts, so they survive a missing gnuplot
// (which still throws ft::Error).
nlohmann::json write_comparison_outputs(const std::string& out_dir, const std::vector<RunInfo>& runs,
                                        const ComparisonOptions& options = {});

// One line per verdict: "lora vs full: <claim>: holds — <evidence>".
std::string verdict_lines(const nlohmann::json& comparison);

}  // namespace ft::report
