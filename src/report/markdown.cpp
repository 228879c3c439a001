#include "report/markdown.h"

#include <cmath>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "report/format.h"

namespace ft::report {
namespace {

using nlohmann::json;
using Formatter = std::function<std::string(double)>;

const char* const kNone = "—";

// "mean" or "mean ± std" for a metric object of comparison.json; "—" when not measured.
std::string cell(const json& metric, const Formatter& fmt) {
  if (metric.is_null()) return kNone;
  std::string s = fmt(metric["mean"].get<double>());
  if (metric.contains("std")) s += " ± " + fmt(metric["std"].get<double>());
  return s;
}

std::string reduction_cell(const json& arm, const std::string& key, bool is_baseline) {
  if (is_baseline) return kNone;
  const json& r = arm["reduction_percent"][key];
  return r.is_null() ? kNone : format_percent(r.get<double>(), 2);
}

void row(std::ostringstream& out, const std::vector<std::string>& cells) {
  out << "|";
  for (const std::string& c : cells) out << " " << c << " |";
  out << "\n";
}

// Text columns (the first `text_columns`) align left, figures right.
void header(std::ostringstream& out, const std::vector<std::string>& cells, size_t text_columns = 1) {
  row(out, cells);
  out << "|";
  for (size_t i = 0; i < cells.size(); ++i) out << (i < text_columns ? " --- |" : " ---: |");
  out << "\n";
}

std::string seeds_text(const json& arm) {
  std::string s;
  for (const json& seed : arm["seeds"]) s += (s.empty() ? "" : ", ") + std::to_string(seed.get<int64_t>());
  return s;
}

std::string memory_source_text(const std::string& source) {
  if (source == "cuda_peak_allocated_bytes") return "CUDA allocator peak";
  if (source == "peak_rss_bytes") return "process peak RSS";
  return source;
}

std::string points(double fraction) { return (fraction >= 0 ? "+" : "") + format_fixed(100 * fraction, 2) + " pp"; }

const char* const kIntervalMethods =
    "with two or more seeds a two-level bootstrap (seeds with replacement, then examples; t interval at the "
    "Welch–Satterthwaite degrees of freedom), which covers training-run and test-set noise; with one seed a "
    "bootstrap over test examples, which covers test-set noise only (docs/statistics.md).";

// "[lo, hi]" of an interval object of comparison.json, in points.
std::string points_interval(const json& ci) { return "[" + points(ci["lo"].get<double>()) + ", " + points(ci["hi"].get<double>()) + "]"; }

// Degrees of freedom and seed share of the spread, or what the interval covers.
std::string spread_cell(const json& ci) {
  if (ci["seeds"].get<int>() < 2) return "one run: test examples only";
  const std::string df = ci["df"].is_null() ? "∞" : format_fixed(ci["df"].get<double>(), 1);
  return "se " + format_fixed(100 * ci["se"].get<double>(), 2) + " pp (seeds " + format_fixed(100 * ci["se_seed"].get<double>(), 2) +
         "), df " + df;
}

// Accuracy per run and perturbation with its drop from clean, then the paired tests per arm.
void render_robustness(std::ostringstream& out, const json& c) {
  const json& r = c["robustness"];
  const std::string base = c["baseline"];
  out << "\n## Robustness\n\nAccuracy on the clean test set and on each perturbed copy (change from clean in "
      << "parentheses, in points). Perturbation seed";
  std::set<int64_t> seeds;
  for (const json& p : r["perturbations"]) seeds.insert(p["seed"].get<int64_t>());
  for (const int64_t s : seeds) out << " " << s;
  out << ".\n\n";
  std::vector<std::string> cols = {"Arm", "Seed", "Clean"};
  for (const json& p : r["perturbations"]) cols.push_back(p["perturbation"]);
  header(out, cols, 2);
  for (const json& run : r["runs"]) {
    std::vector<std::string> cells = {run["arm"], std::to_string(run["seed"].get<int64_t>()),
                                      format_percent(100 * run["clean_accuracy"].get<double>(), 2)};
    for (const json& p : r["perturbations"]) {
      std::string cell = kNone;
      for (const json& res : run["results"])
        if (res["perturbation"] == p["perturbation"] && run["perturbation_seed"] == p["seed"])
          // accuracy − clean rather than −drop: an unchanged accuracy reads +0.00, not -0.00.
          cell = format_percent(100 * res["accuracy"].get<double>(), 2) + " (" +
                 points(res["accuracy"].get<double>() - run["clean_accuracy"].get<double>()) + ")";
      cells.push_back(cell);
    }
    row(out, cells);
  }
  if (r["pairs"].empty()) return;
  const std::string conf = format_fixed(100 * c["options"]["confidence"].get<double>(), 0) + "% CI";
  out << "\n";
  header(out, {"Arm vs " + base, "Perturbation", "Seeds", "McNemar b / c / p (perturbed)", "Drop arm", "Drop baseline",
               "Drop diff", conf}, 2);
  for (const json& p : r["pairs"]) {
    std::string seeds_cell, tests;
    for (const json& m : p["mcnemar"]) {
      seeds_cell += (seeds_cell.empty() ? "" : ", ") + std::to_string(m["seed"].get<int64_t>());
      tests += (tests.empty() ? "" : "; ") + format_count(m["b"].get<int64_t>()) + " / " +
               format_count(m["c"].get<int64_t>()) + " / " + format_p_value(m["p_value"].get<double>());
    }
    const bool has_ci = p.contains("bootstrap");
    row(out, {p["arm"], p["perturbation"], seeds_cell, tests, points(p["drop_arm"].get<double>()),
              points(p["drop_baseline"].get<double>()), has_ci ? points(p["bootstrap"]["diff"].get<double>()) : kNone,
              has_ci ? "[" + points(p["bootstrap"]["lo"].get<double>()) + ", " +
                           points(p["bootstrap"]["hi"].get<double>()) + "]"
                     : kNone});
  }
  out << "\nDrops are clean − perturbed accuracy. McNemar compares the arm with " << base
      << " on the perturbed set; the interval is of drop(arm) − drop(" << base << ") per example, averaged over the "
      << "shared seeds: " << kIntervalMethods << "\n";
}

}  // namespace

// 2e-05, 0.0001: a learning rate as a config would spell it.
std::string shortest(double v) {
  std::ostringstream s;
  s << v;
  return s.str();
}

// Which set chose each run's checkpoint and gave its gap, and the sweeps that chose learning rates.
void render_provenance(std::ostringstream& out, const json& c) {
  out << "\n## Data provenance\n\n";
  std::map<std::string, std::set<std::string>> sets;
  for (const json& r : c["runs"]) sets[r["arm"].get<std::string>()].insert(r.value("selection_set", std::string("test")));
  bool test_chose = false;
  for (const json& a : c["arms"]) {
    const auto& s = sets[a["arm"].get<std::string>()];
    std::string names;
    for (const std::string& x : s) names += (names.empty() ? "" : " and ") + x;
    test_chose = test_chose || s.count("test");
    out << "- " << a["arm"].get<std::string>() << ": evaluation during training, checkpoint choice and the generalization gap on the "
        << names << " set; accuracy, F1, eval loss and every paired test on the test set.\n";
  }
  if (test_chose)
    out << "\nWhere the test set chose the checkpoint (no validation set, the study's protocol), test figures are optimistic "
        << "and the gap is measured on the set that selected the model; give the arms validation_split or validation_file.\n";
  if (!c.contains("sweeps")) return;
  out << "\n## Learning-rate sweeps\n\n";
  header(out, {"Arm", "Learning rate", "Seeds", "Validation score", "Chosen"});
  for (const json& sw : c["sweeps"])
    for (const json& v : sw["values"])
      row(out, {sw["arm"], shortest(v["learning_rate"].get<double>()), std::to_string(v["seeds"].size()),
                sw["metric"].get<std::string>() + " " + format_fixed(v["score"].get<double>(), 4), v["chosen"].get<bool>() ? "**yes**" : ""});
  out << "\nEach arm's learning rate was chosen by the final model's score on the validation set (mean over seeds); "
      << "only the chosen runs enter the comparison below, on the test set.\n";
}

void render_calibration(std::ostringstream& out, const json& c) {
  out << "\n## Calibration\n\n";
  const json& o = c["options"];
  const std::string conf = format_fixed(100 * o["confidence"].get<double>(), 0) + "% CI";
  auto with_ci = [](const json& x) {
    return format_fixed(x.contains("value") ? x["value"].get<double>() : x["diff"].get<double>(), 4) + " [" + format_fixed(x["lo"].get<double>(), 4) + ", " +
           format_fixed(x["hi"].get<double>(), 4) + "]";
  };
  header(out, {"Arm", "Seed", "ECE (" + conf + ")", "Brier", "NLL"});
  for (const json& r : c["calibration"]["runs"])
    row(out, {r["arm"], std::to_string(r["seed"].get<int64_t>()), with_ci(r["ece"]), with_ci(r["brier"]), with_ci(r["nll"])});
  if (!c["calibration"]["pairs"].empty()) {
    out << "\n";
    header(out, {"Arm vs " + c["baseline"].get<std::string>(), "Seed", "ECE diff", "Brier diff", "NLL diff"});
    for (const json& p : c["calibration"]["pairs"])
      row(out, {p["arm"], std::to_string(p["seed"].get<int64_t>()), with_ci(p["ece_diff"]), with_ci(p["brier_diff"]),
                with_ci(p["nll_diff"])});
  }
  const json& over = c["calibration"].value("over_seeds", json::array());
  if (!over.empty()) {
    out << "\nOver seeds (the verdict's interval):\n\n";
    header(out, {"Arm vs " + c["baseline"].get<std::string>(), "Seeds", "ECE diff", "Brier diff", "NLL diff"});
    for (const json& p : over)
      row(out, {p["arm"], std::to_string(p["ece_diff"]["seeds"].get<int>()), with_ci(p["ece_diff"]), with_ci(p["brier_diff"]),
                with_ci(p["nll_diff"])});
  }
  out << "\nECE: 15 equal-width confidence bins, Σ (n_bin/n)·|accuracy − mean confidence|; Brier: mean (1 − p(true label))²; "
      << "NLL: mean −ln p(true label); per-seed intervals from the paired bootstrap over that run's test examples; over seeds: "
      << kIntervalMethods << " Overfitted models are "
      << "typically overconfident, so this tests the study's overfitting story directly.\n";
}

void render_stability(std::ostringstream& out, const json& c) {
  if (c["stability"].empty()) return;
  out << "\n## Seed stability\n\n";
  header(out, {"Arm vs baseline", "Metric", "Std arm", "Std baseline", "p (less spread)", "p (more spread)", "Permutations"});
  for (const json& s : c["stability"])
    row(out, {s["arm"].get<std::string>() + " vs " + s["baseline"].get<std::string>(), s["metric"],
              format_fixed(s["std_arm"].get<double>(), 5), format_fixed(s["std_baseline"].get<double>(), 5),
              format_p_value(s["p_less"].get<double>()), format_p_value(s["p_greater"].get<double>()),
              std::to_string(s["permutations"].get<int64_t>()) + (s["exact"].get<bool>() ? " (exact)" : " (sampled)")});
  out << "\nA permutation test on each run's absolute deviation from its arm's mean (a Levene-type test that needs no "
      << "normality, fit for a handful of seeds): the share of relabellings of the deviations whose mean difference is at "
      << "most (least) the observed one.\n";
}

// acc(arm) − acc(baseline) over seeds: the intervals the accuracy verdicts use.
void render_over_seeds(std::ostringstream& out, const json& c) {
  if (!c.contains("accuracy_over_seeds") || c["accuracy_over_seeds"].empty()) return;
  const json& o = c["options"];
  out << "\nOver seeds (the verdicts' intervals):\n\n";
  header(out, {"Arm vs " + c["baseline"].get<std::string>(), "Seeds", "Mean accuracy diff",
               format_fixed(100 * o["confidence"].get<double>(), 0) + "% CI",
               format_fixed(100 * (1 - 2 * o["alpha"].get<double>()), 0) + "% CI (TOST)", "Spread"});
  for (const json& a : c["accuracy_over_seeds"])
    row(out, {a["arm"], std::to_string(a["ci"]["seeds"].get<int>()), points(a["ci"]["diff"].get<double>()),
              points_interval(a["ci"]), points_interval(a["equivalence"]), spread_cell(a["ci"])});
  out << "\nIntervals: " << kIntervalMethods << "\n";
}

// "median (lowest–highest)" of a metric object over seeds; the value alone for one run.
std::string median_cell(const json& metric, const Formatter& fmt) {
  if (metric.is_null()) return kNone;
  if (metric["n"].get<int>() == 1) return fmt(metric["mean"].get<double>());
  return fmt(metric["median"].get<double>()) + " (" + fmt(metric["min"].get<double>()) + "–" + fmt(metric["max"].get<double>()) + ")";
}

// Peak memory and time per arm (medians and ranges), the tensor sizes behind memory, runs that shared
// the machine.
void render_resources(std::ostringstream& out, const json& c) {
  const Formatter bytes = [](double v) { return format_bytes(v); };
  const Formatter duration = [](double v) { return format_duration(v); };
  const std::string base = c["baseline"];
  out << "\n## Resources\n\n";
  header(out, {"Arm", "Peak memory", "Memory reduction", "Training time", "Time reduction", "Checkpoint",
               "Checkpoint reduction"});
  bool shared = false, sizes = false;
  for (const json& a : c["arms"]) {
    const json& m = a["metrics"];
    const bool is_base = a["arm"] == base;
    const int concurrent = a.value("concurrent_runs", 1);
    shared = shared || concurrent > 1;
    sizes = sizes || (m.contains("parameter_bytes") && !m["parameter_bytes"].is_null());
    const std::string mark = concurrent > 1 ? " †" : "";
    row(out, {a["arm"].get<std::string>() + mark, median_cell(m["peak_memory_bytes"], bytes), reduction_cell(a, "peak_memory_bytes", is_base),
              median_cell(m["train_runtime_s"], duration), reduction_cell(a, "train_runtime_s", is_base),
              cell(m["checkpoint_bytes"], bytes), reduction_cell(a, "checkpoint_bytes", is_base)});
  }
  if (shared)
    out << "\n† Trained while other runs shared the machine (finetune compare --parallel N: up to N at once); its times "
        << "and memory are not those of a machine to itself.\n";
  if (!sizes) return;
  out << "\nWhat the method sets in memory, apart from activations (per run):\n\n";
  header(out, {"Arm", "Weights", "Gradients", "AdamW state", "Sum", "Peak memory"});
  for (const json& a : c["arms"]) {
    const json& m = a["metrics"];
    auto size = [&](const char* k) { return m.contains(k) && !m[k].is_null() ? m[k]["mean"].get<double>() : -1.0; };
    const double w = size("parameter_bytes"), g = size("gradient_bytes"), s = size("optimizer_state_bytes");
    if (w < 0 || g < 0 || s < 0) {
      row(out, {a["arm"], kNone, kNone, kNone, kNone, median_cell(m["peak_memory_bytes"], bytes)});
      continue;
    }
    row(out, {a["arm"], format_bytes(w), format_bytes(g), format_bytes(s), format_bytes(w + g + s), median_cell(m["peak_memory_bytes"], bytes)});
  }
}

std::string render_markdown(const json& c) {
  const Formatter count = [](double v) { return format_count(std::llround(v)); };
  const Formatter pct = [](double v) { return format_percent(v, 2); };
  const Formatter fraction = [](double v) { return format_percent(100 * v, 2); };
  const Formatter loss = [](double v) { return format_fixed(v, 4); };
  const std::string base = c["baseline"];

  std::ostringstream out;
  out << "# Fine-tuning comparison\n\n";
  out << "Baseline arm: **" << base << "**. Figures are means over seeds (± sample std when an arm has "
      << "several); reductions are 100·(baseline − arm)/baseline.\n\n";
  header(out, {"Arm", "Method", "Model", "Device", "Seeds"}, 5);
  for (const json& a : c["arms"])
    row(out, {a["arm"], a["method"], a["model"], a["device"], seeds_text(a)});

  out << "\n## Parameters\n\n";
  header(out, {"Arm", "Trainable", "Total", "Trainable %", "Reduction vs " + base});
  for (const json& a : c["arms"]) {
    const json& m = a["metrics"];
    row(out, {a["arm"], cell(m["trainable_params"], count), cell(m["total_params"], count),
              cell(m["trainable_percent"], pct), reduction_cell(a, "trainable_params", a["arm"] == base)});
  }

  render_resources(out, c);
  std::set<std::string> sources;
  for (const json& a : c["arms"]) sources.insert(a["memory_source"].get<std::string>());
  out << "\nPeak memory is the";
  if (sources.size() == 1) {
    out << " " << memory_source_text(*sources.begin());
  } else {
    for (const json& a : c["arms"])
      out << (a["arm"] == base ? " " : ", ") << memory_source_text(a["memory_source"]) << " for "
          << a["arm"].get<std::string>();
  }
  out << ". Memory and time are medians over seeds with their range (lowest–highest run); reductions compare "
      << "medians, and show — when the two arms ran on different devices, measured memory differently, or (time) "
      << "ran with different numbers of runs sharing the machine.\n";
  std::set<std::string> machines;  // what every timing above ran on (finetune env tells the same)
  for (const json& r : c["runs"])
    if (!r.value("machine", std::string()).empty()) machines.insert(r["machine"].get<std::string>());
  for (const std::string& m : machines) out << "\nTimed on: " << m << ".\n";

  out << "\n## Metrics\n\n";
  header(out, {"Arm", "Accuracy", "F1", "Eval loss", "Train loss", "Generalization gap"});
  for (const json& a : c["arms"]) {
    const json& m = a["metrics"];
    row(out, {a["arm"], cell(m["accuracy"], fraction), cell(m["f1"], fraction), cell(m["eval_loss"], loss),
              cell(m["train_loss"], loss), cell(m["generalization_gap"], loss)});
  }
  out << "\nGeneralization gap = loss − train loss on the set that chose the checkpoint (see Data provenance).\n";
  render_provenance(out, c);

  const json& o = c["options"];
  out << "\n## Statistics\n\n";
  if (c["pairs"].empty()) {
    out << "No arm shares a seed with the baseline, so there are no paired tests.\n";
  } else {
    const std::string conf = format_fixed(100 * o["confidence"].get<double>(), 0) + "% CI";
    const std::string tost = format_fixed(100 * (1 - 2 * o["alpha"].get<double>()), 0) + "% CI (TOST)";
    header(out, {"Arm vs " + base, "Seed", "Examples", "b", "c", "McNemar p", "Accuracy diff", conf, tost});
    for (const json& p : c["pairs"]) {
      const std::string seed = std::to_string(p["seed"].get<int64_t>());
      if (!p.contains("mcnemar")) {
        row(out, {p["arm"], seed, kNone, kNone, kNone, kNone, kNone, p["missing"], kNone});
        continue;
      }
      const json &m = p["mcnemar"], &b = p["bootstrap"];
      row(out, {p["arm"], seed, format_count(p["n"].get<int64_t>()), format_count(m["b"].get<int64_t>()),
                format_count(m["c"].get<int64_t>()), format_p_value(m["p_value"].get<double>()),
                points(b["diff"].get<double>()),
                "[" + points(b["lo"].get<double>()) + ", " + points(b["hi"].get<double>()) + "]",
                "[" + points(p["equivalence"]["lo"].get<double>()) + ", " + points(p["equivalence"]["hi"].get<double>()) +
                    "]"});
    }
    out << "\nb: examples the arm gets right and the baseline wrong; c: the reverse. McNemar is the exact "
        << "two-sided binomial test on b and c. The interval is a paired bootstrap of acc(arm) − acc(baseline) with "
        << format_count(o["bootstrap_resamples"].get<int64_t>()) << " resamples (seed "
        << o["bootstrap_seed"].get<uint64_t>() << "); the TOST interval is the same bootstrap at "
        << format_fixed(100 * (1 - 2 * o["alpha"].get<double>()), 0) << "%. These per-seed tests cover one training "
        << "run's test examples.\n";
    render_over_seeds(out, c);
  }
  if (c.contains("robustness")) render_robustness(out, c);
  if (c.contains("calibration")) render_calibration(out, c);
  if (c.contains("stability")) render_stability(out, c);

  out << "\n## Verdicts\n\n";
  if (c["verdicts"].empty()) out << "Only one arm: nothing to compare.\n";
  bool one_run = false;
  for (const json& v : c["verdicts"]) {
    one_run = one_run || v.value("covers", std::string()).rfind("test examples of one", 0) == 0;
    out << "- " << v["arm"].get<std::string>() << " vs " << v["baseline"].get<std::string>() << ", "
        << v["claim"].get<std::string>() << ": **" << v["status"].get<std::string>() << "** — "
        << v["evidence"].get<std::string>() << "\n";
  }
  if (one_run)
    out << "\nWith one training run per arm, the accuracy, robustness, calibration and gap verdicts cover the test "
        << "examples of that run only: another seed trains another model, so they hold at most **for this one training "
        << "run**. Run two or more seeds per arm (three or more for seed stability) for verdicts about the methods.\n";
  out << "\nRules: parameters hold at a reduction of at least 99%. Every interval below is of a mean over the seeds both "
      << "arms ran, paired by seed and example: " << kIntervalMethods << " Accuracy is equal within noise when the "
      << format_fixed(100 * o["confidence"].get<double>(), 0) << "% interval of acc(arm) − acc(baseline) contains 0 (with "
      << "one seed, also McNemar p ≥ " << format_fixed(o["alpha"].get<double>(), 2) << "). Accuracy is equivalent within ±"
      << format_points(o["equivalence_margin"].get<double>()) << " pp (TOST) when the "
      << format_fixed(100 * (1 - 2 * o["alpha"].get<double>()), 0) << "% interval lies inside the margin. A smaller "
      << "generalization gap holds when the interval of gap(arm) − gap(baseline) lies below 0 (with one seed: when "
      << "the arm's gap is lower), does not hold above 0. Memory and time hold when the arm's median is lower by more "
      << "than " << format_percent(100 * o.value("resource_margin", 0.05), 0) << " of the baseline's and, with two or more "
      << "runs per arm, every run of the arm is below every run of the baseline (the run-to-run spread); past the margin "
      << "but overlapping they are undecided, within it they do not hold.";
  if (c.contains("robustness"))
    out << " Degrades less under a perturbation holds when the interval of drop(arm) − drop(baseline) lies entirely "
        << "below 0, does not hold when entirely above 0, and is undecided otherwise.";
  if (c.contains("calibration"))
    out << " Better calibrated holds when the interval of ECE(arm) − ECE(baseline) lies below 0, does not hold when it "
        << "lies above 0, and is undecided otherwise.";
  out << " More stable across seeds needs 3 or more seeds per arm and holds when the permutation test's p (less spread) "
      << "≤ " << format_fixed(o["alpha"].get<double>(), 2) << ", does not hold when p (more spread) is, and is undecided "
      << "otherwise.\n";
  return out.str();
}

}  // namespace ft::report
