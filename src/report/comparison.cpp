#include "report/comparison.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <sstream>

#include "core/error.h"
#include "core/files.h"
#include "core/log.h"
#include "report/dashboard.h"
#include "report/format.h"
#include "report/markdown.h"
#include "report/stats.h"
#include "train/metrics.h"

namespace ft::report {
namespace {

using nlohmann::json;

const char* const kResultsFile = "results.json";
const char* const kPredictionsFile = "predictions.tsv";

// Nullptr when any step of the path is absent or null.
const json* find_at(const json& j, const std::string& pointer) {
  const json::json_pointer p(pointer);
  if (!j.contains(p)) return nullptr;
  const json& v = j.at(p);
  return v.is_null() ? nullptr : &v;
}

std::optional<double> optional_number(const json& j, const std::string& pointer, const std::string& file) {
  const json* v = find_at(j, pointer);
  if (!v) return std::nullopt;
  if (!v->is_number()) throw Error(file + ": " + pointer + " must be a number, got " + v->dump());
  return v->get<double>();
}

double required_number(const json& j, const std::string& pointer, const std::string& file) {
  const auto v = optional_number(j, pointer, file);
  if (!v) throw Error(file + ": missing " + pointer);
  return *v;
}

std::string optional_string(const json& j, const std::string& pointer, const std::string& file,
                            const std::string& fallback) {
  const json* v = find_at(j, pointer);
  if (!v) return fallback;
  if (!v->is_string()) throw Error(file + ": " + pointer + " must be a string, got " + v->dump());
  return v->get<std::string>();
}

bool optional_bool(const json& j, const std::string& pointer, const std::string& file, bool fallback) {
  const json* v = find_at(j, pointer);
  if (!v) return fallback;
  if (!v->is_boolean()) throw Error(file + ": " + pointer + " must be true or false, got " + v->dump());
  return v->get<bool>();
}

// A byte count of 0 means "not measured" (e.g. CUDA statistics on a CPU build), never a real size.
std::optional<double> positive(std::optional<double> v) { return v && *v > 0 ? v : std::nullopt; }

// One run's figures, keyed as in comparison.json; absent optional figures are nullopt.
struct RunRecord {
  RunInfo info;
  std::string method, model, device, memory_source, machine;
  std::map<std::string, std::optional<double>> values;
  int concurrent_runs = 1;  // runs that shared the machine with it (compare --parallel N), itself included
  double learning_rate = 0;
  // Which set chose the checkpoint and gives the gap ("validation", or "test" as in the study), and
  // the run's final score there on its metric_for_best_model (what a learning-rate sweep compares).
  std::string selection_set, selection_metric;
  std::optional<double> selection_score;
};

RunRecord read_run(const RunInfo& info) {
  const std::string file = join_path(info.dir, kResultsFile);
  const json j = read_json(file);
  if (!j.is_object()) throw Error(file + ": expected a JSON object");
  RunRecord r;
  r.info = info;
  r.method = optional_string(j, "/method", file, "");
  if (r.method.empty()) throw Error(file + ": missing /method");
  r.model = optional_string(j, "/model", file, "");
  if (optional_bool(j, "/random_init", file, false)) r.model += " (random init)";  // only the config was read from it
  r.device = optional_string(j, "/environment/device", file, "cpu");
  r.machine = optional_string(j, "/environment/machine_summary", file, "");  // absent before finetune env
  // The study's memory figure is the CUDA allocator's peak; on CPU the process RSS is what exists.
  const bool cuda = r.device.rfind("cuda", 0) == 0;
  r.memory_source = cuda ? "cuda_peak_allocated_bytes" : "peak_rss_bytes";
  auto& v = r.values;
  v["trainable_params"] = required_number(j, "/parameters/trainable", file);
  v["total_params"] = required_number(j, "/parameters/total", file);
  if (*v["total_params"] <= 0) throw Error(file + ": /parameters/total must be positive");
  v["trainable_percent"] = 100.0 * *v["trainable_params"] / *v["total_params"];
  v["peak_memory_bytes"] = positive(optional_number(j, "/memory/" + r.memory_source, file));
  v["train_runtime_s"] = required_number(j, "/train/runtime_s", file);
  v["checkpoint_bytes"] = positive(optional_number(j, "/checkpoint/bytes", file));
  // What sets memory apart from activations, in runs recorded since they were measured.
  for (const char* k : {"parameter_bytes", "gradient_bytes", "optimizer_state_bytes"})
    v[k] = positive(optional_number(j, std::string("/memory/") + k, file));
  r.concurrent_runs = static_cast<int>(optional_number(j, "/environment/concurrent_runs", file).value_or(1));
  v["accuracy"] = required_number(j, "/eval/final/accuracy", file);
  v["f1"] = required_number(j, "/eval/final/f1", file);
  v["eval_loss"] = required_number(j, "/eval/final/loss", file);
  v["train_loss"] = required_number(j, "/train/final_loss", file);
  v["generalization_gap"] = required_number(j, "/generalization_gap", file);
  r.learning_rate = optional_number(j, "/hyperparameters/learning_rate", file).value_or(0);
  r.selection_set = optional_string(j, "/data/selection_set", file, "test");  // before validation sets existed
  r.selection_metric = optional_string(j, "/hyperparameters/metric_for_best_model", file, "eval_loss");
  const std::string key = r.selection_metric.rfind("eval_", 0) == 0 ? r.selection_metric.substr(5) : r.selection_metric;
  if (r.selection_set == "validation") r.selection_score = optional_number(j, "/validation/final/" + key, file);
  return r;
}

struct Predictions {
  std::string path;
  std::vector<std::string> ids;
  std::vector<int64_t> labels, preds;
  // From the probability and label_probability columns, when the file has both (runs before
  // calibration was measured lack the second): what calibration needs.
  std::optional<CalibrationInputs> calibration;
};

std::vector<std::string> split_tabs(const std::string& line) {
  std::vector<std::string> out;
  std::string field;
  std::istringstream in(line);
  while (std::getline(in, field, '\t')) out.push_back(field);
  if (!line.empty() && line.back() == '\t') out.emplace_back();
  return out;
}

Predictions read_predictions(const std::string& path) {
  std::istringstream in(read_file(path));
  Predictions p;
  p.path = path;
  std::string line;
  std::map<std::string, size_t> column;
  size_t line_no = 0;
  while (std::getline(in, line)) {
    ++line_no;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty()) continue;
    const std::vector<std::string> fields = split_tabs(line);
    if (column.empty()) {
      for (size_t i = 0; i < fields.size(); ++i) column[fields[i]] = i;
      for (const char* need : {"id", "label", "prediction"})
        if (!column.count(need)) throw Error(path + ":1: header lacks the column '" + need + "'");
      continue;
    }
    const auto field = [&](const char* name) -> const std::string& {
      const size_t i = column.at(name);
      if (i >= fields.size()) throw Error(path + ":" + std::to_string(line_no) + ": row has no '" + name + "' field");
      return fields[i];
    };
    const auto integer = [&](const char* name) {
      const std::string& s = field(name);
      size_t used = 0;
      int64_t value = 0;
      try {
        value = std::stoll(s, &used);
      } catch (const std::exception&) {
        used = 0;
      }
      if (used == 0 || used != s.size())
        throw Error(path + ":" + std::to_string(line_no) + ": " + name + " '" + s + "' is not an integer");
      return value;
    };
    const auto probability = [&](const char* name) {
      const std::string& s = field(name);
      char* end = nullptr;
      const double v = std::strtod(s.c_str(), &end);
      if (s.empty() || *end != '\0' || !(v >= 0 && v <= 1))
        throw Error(path + ":" + std::to_string(line_no) + ": " + name + " '" + s + "' is not a probability");
      return v;
    };
    p.ids.push_back(field("id"));
    p.labels.push_back(integer("label"));
    p.preds.push_back(integer("prediction"));
    if (column.count("probability") && column.count("label_probability")) {
      if (!p.calibration) p.calibration.emplace();
      p.calibration->confidence.push_back(probability("probability"));
      p.calibration->p_true.push_back(probability("label_probability"));
      p.calibration->correct.push_back(p.labels.back() == p.preds.back());
    }
  }
  if (column.empty()) throw Error(path + ": empty file, expected a header and one row per eval example");
  return p;
}

// The paired tests assume both runs scored the same examples in the same order.
void check_same_examples(const Predictions& a, const Predictions& b) {
  if (a.ids.size() != b.ids.size())
    throw Error(a.path + " and " + b.path + ": different numbers of examples (" + std::to_string(a.ids.size()) +
                " vs " + std::to_string(b.ids.size()) + ")");
  for (size_t i = 0; i < a.ids.size(); ++i) {
    if (a.ids[i] != b.ids[i] || a.labels[i] != b.labels[i])
      throw Error(a.path + " and " + b.path + ": row " + std::to_string(i + 1) + " differs (id " + a.ids[i] +
                  " label " + std::to_string(a.labels[i]) + " vs id " + b.ids[i] + " label " +
                  std::to_string(b.labels[i]) + "); the paired tests need the same examples in the same order");
  }
}

struct Arm {
  std::string name, method, device, memory_source;
  std::vector<const RunRecord*> runs;  // ordered by seed
  std::map<std::string, std::optional<MeanStd>> stats;
  std::map<std::string, std::vector<double>> sorted;  // each figure over the runs, ascending (when in every run)
  int concurrent_runs = 1;  // the most runs that shared the machine with one of the arm's

  const RunRecord* run_for_seed(int64_t seed) const {
    for (const RunRecord* r : runs)
      if (r->info.seed == seed) return r;
    return nullptr;
  }
  std::optional<MeanStd> stat(const std::string& key) const { return stats.at(key); }
};

// One value for the arm when all its runs agree, else "mixed".
std::string common(const std::vector<const RunRecord*>& runs, std::string RunRecord::*field) {
  for (const RunRecord* r : runs)
    if (r->*field != runs.front()->*field) return "mixed";
  return runs.front()->*field;
}

Arm summarize(const std::string& name, std::vector<const RunRecord*> runs) {
  std::sort(runs.begin(), runs.end(),
            [](const RunRecord* a, const RunRecord* b) { return a->info.seed < b->info.seed; });
  Arm arm;
  arm.name = name;
  arm.runs = runs;
  arm.method = common(runs, &RunRecord::method);
  arm.device = common(runs, &RunRecord::device);
  arm.memory_source = common(runs, &RunRecord::memory_source);
  for (const auto& kv : runs.front()->values) {
    std::vector<double> xs;
    for (const RunRecord* r : runs)
      if (const auto& v = r->values.at(kv.first)) xs.push_back(*v);
    // A mean over only some seeds would not be comparable with the other arm's: all or nothing.
    arm.stats[kv.first] = xs.size() == runs.size() ? std::optional<MeanStd>(mean_std(xs)) : std::nullopt;
    std::sort(xs.begin(), xs.end());
    if (xs.size() == runs.size()) arm.sorted[kv.first] = xs;
  }
  for (const RunRecord* r : runs) arm.concurrent_runs = std::max(arm.concurrent_runs, r->concurrent_runs);
  return arm;
}

double median_sorted(const std::vector<double>& xs) {
  const size_t n = xs.size();
  return n % 2 ? xs[n / 2] : 0.5 * (xs[n / 2 - 1] + xs[n / 2]);
}

json stat_json(const Arm& arm, const std::string& key) {
  const std::optional<MeanStd>& s = arm.stats.at(key);
  if (!s) return nullptr;
  const std::vector<double>& xs = arm.sorted.at(key);
  json j = {{"mean", s->mean}, {"n", s->n}, {"median", median_sorted(xs)}, {"min", xs.front()}, {"max", xs.back()}};
  if (s->n > 1) j["std"] = s->std;
  return j;
}

// How a figure reads in evidence strings.
using Formatter = std::function<std::string(double)>;

std::string with_spread(const MeanStd& s, const Formatter& fmt) {
  return s.n > 1 ? fmt(s.mean) + " ± " + fmt(s.std) + " (n=" + std::to_string(s.n) + ")" : fmt(s.mean);
}

// Why arm and baseline values of `key` cannot be compared, or "" when they can.
std::string incomparable(const Arm& arm, const Arm& base, const std::string& key) {
  if (key == "train_runtime_s" && arm.device != base.device)
    return "trained on different devices (" + arm.device + " vs " + base.device + ")";
  if (key == "peak_memory_bytes" && arm.memory_source != base.memory_source)
    return "memory measured differently (" + arm.memory_source + " vs " + base.memory_source + ")";
  if (key == "train_runtime_s" && arm.concurrent_runs != base.concurrent_runs)
    return "timed with different numbers of runs sharing the machine (up to " + std::to_string(arm.concurrent_runs) +
           " vs " + std::to_string(base.concurrent_runs) + " at once)";
  if (!arm.stat(key) || !base.stat(key)) return "not measured in every run";
  return "";
}

// On medians over seeds: one slow run (a busy machine) moves a mean, not a median.
std::optional<double> reduction_percent(const Arm& arm, const Arm& base, const std::string& key) {
  if (!incomparable(arm, base, key).empty()) return std::nullopt;
  const double b = median_sorted(base.sorted.at(key));
  if (b == 0) return std::nullopt;
  return 100.0 * (b - median_sorted(arm.sorted.at(key))) / b;
}

// What the noise behind a verdict covers: nothing to cover (a count), the test sample of one training
// run per arm, or training runs and test sample both.
// Resource figures have no test sample: one measured run, or the spread of several.
enum class Covers { kNothing, kOneRun, kRuns, kOneMeasuredRun, kMeasuredRuns };

// "status" is the verdict in words: with one training run per arm a claim about noise cannot hold more
// strongly than for that run, since another seed may train a different model.
json verdict(const Arm& arm, const Arm& base, const std::string& claim, std::optional<bool> holds,
             const std::string& evidence, Covers covers = Covers::kNothing) {
  const bool one = covers == Covers::kOneRun || covers == Covers::kOneMeasuredRun;
  const std::string scope = one ? " for this one training run" : "";
  json v = {{"arm", arm.name}, {"baseline", base.name}, {"claim", claim}, {"holds", holds ? json(*holds) : json(nullptr)},
            {"status", holds ? (*holds ? "holds" : "does not hold") + scope : "undecided"}, {"evidence", evidence}};
  if (covers == Covers::kOneRun) v["covers"] = "test examples of one training run per arm";
  if (covers == Covers::kRuns) v["covers"] = "training runs (seeds) and test examples";
  if (covers == Covers::kOneMeasuredRun) v["covers"] = "one measured run per arm";
  if (covers == Covers::kMeasuredRuns) v["covers"] = "run-to-run spread over seeds";
  return v;
}

Covers covers_of(const RunsEstimate& e) { return e.covers_training_runs() ? Covers::kRuns : Covers::kOneRun; }

// An interval of comparison.json: the figure, its bounds and how they were found.
json interval_json(const RunsEstimate& e, double confidence) {
  const BootstrapCI ci = e.interval(confidence);
  json j = {{"diff", ci.diff}, {"lo", ci.lo}, {"hi", ci.hi}, {"confidence", confidence}, {"resamples", ci.resamples},
            {"seed", ci.seed}, {"seeds", e.seeds}};
  if (e.covers_training_runs()) {
    j["method"] = "two-level bootstrap (seeds, then examples), t interval";
    j["se"] = e.se;
    j["se_seed"] = e.se_seed;
    j["df"] = std::isfinite(e.df) ? json(e.df) : json(nullptr);  // no spread at all: no finite df
  } else {
    j["method"] = "example bootstrap, percentile interval";
  }
  return j;
}

// "95% CI [lo, hi]" with the method: what covers what, said in the evidence.
std::string interval_text(const RunsEstimate& e, double confidence, const std::function<std::string(double)>& fmt,
                          const std::string& unit = "") {
  const BootstrapCI ci = e.interval(confidence);
  std::string s = format_fixed(100 * confidence, 0) + "% CI [" + fmt(ci.lo) + ", " + fmt(ci.hi) + "]" + unit;
  if (e.covers_training_runs())
    s += " over " + std::to_string(e.seeds) + " seeds (two-level bootstrap, t at " +
         (std::isfinite(e.df) ? format_fixed(e.df, 1) : std::string("∞")) + " df)";
  else
    s += " (test examples of one training run)";
  return s;
}

const Predictions& cached(std::map<std::string, Predictions>& cache, const std::string& path) {
  if (!cache.count(path)) cache[path] = read_predictions(path);
  return cache[path];
}

// All the runs scored the same examples in the same order (ids and labels agree).
bool same_examples(const std::vector<const Predictions*>& files) {
  for (const Predictions* f : files)
    if (f->ids != files.front()->ids || f->labels != files.front()->labels) return false;
  return true;
}

// "median 1m 43s (1m 41s–1m 45s over 3 runs)", or the one run's figure.
std::string median_text(const std::vector<double>& xs, const Formatter& fmt) {
  if (xs.size() == 1) return fmt(xs.front());
  return "median " + fmt(median_sorted(xs)) + " (" + fmt(xs.front()) + "–" + fmt(xs.back()) + " over " +
         std::to_string(xs.size()) + " runs)";
}

// Weights, gradients and AdamW state of a run, where recorded: what the method changes in memory.
std::string tensor_sizes_text(const Arm& a) {
  for (const char* k : {"parameter_bytes", "gradient_bytes", "optimizer_state_bytes"})
    if (!a.stat(k)) return "";
  return a.name + " weights " + format_bytes(a.stat("parameter_bytes")->mean) + ", gradients " +
         format_bytes(a.stat("gradient_bytes")->mean) + ", AdamW state " + format_bytes(a.stat("optimizer_state_bytes")->mean);
}

// "memory reduced", "faster": the arm's median is lower than the baseline's by more than
// o.resource_margin of it and, with two or more runs each, by more than the run-to-run spread: every
// run of the arm below every run of the baseline (runs of one distribution fall so by chance
// 1 time in C(n_arm + n_base, n_arm), 1 in 20 for 3 and 3). Past the margin but within the spread it
// is undecided; within the margin it does not hold.
json resource_verdict(const Arm& arm, const Arm& base, const std::string& claim, const std::string& key, const Formatter& fmt,
                      const ComparisonOptions& o) {
  if (const std::string why = incomparable(arm, base, key); !why.empty())
    return verdict(arm, base, claim, std::nullopt, why);
  const std::vector<double>&xa = arm.sorted.at(key), &xb = base.sorted.at(key);
  const double reduction = *reduction_percent(arm, base, key) / 100;
  std::string evidence = arm.name + " " + median_text(xa, fmt) + " vs " + base.name + " " + median_text(xb, fmt) + ", " +
                         format_percent(std::abs(100 * reduction), 1) + (reduction >= 0 ? " lower" : " higher") +
                         " (margin " + format_percent(100 * o.resource_margin, 0) + ")";
  if (key == "peak_memory_bytes")
    if (const std::string a = tensor_sizes_text(arm), b = tensor_sizes_text(base); !a.empty() && !b.empty())
      evidence += "; " + a + " vs " + b;
  if (arm.concurrent_runs > 1 || base.concurrent_runs > 1)
    evidence += "; measured with up to " + std::to_string(std::max(arm.concurrent_runs, base.concurrent_runs)) +
                " runs sharing the machine";
  const bool several = xa.size() > 1 && xb.size() > 1;
  const Covers covers = several ? Covers::kMeasuredRuns : Covers::kOneMeasuredRun;
  if (reduction <= o.resource_margin) return verdict(arm, base, claim, false, evidence, covers);
  if (!several) return verdict(arm, base, claim, true, evidence + "; one run per arm, so no run-to-run spread", covers);
  const bool apart = xa.back() < xb.front();
  double ways = 1;  // C(n_arm + n_base, n_arm)
  for (size_t i = 1; i <= xa.size(); ++i) ways = ways * static_cast<double>(xb.size() + i) / static_cast<double>(i);
  evidence += apart ? "; every " + arm.name + " run below every " + base.name + " run (" + fmt(xa.back()) + " < " +
                          fmt(xb.front()) + "; by chance 1 in " + format_count(std::llround(ways)) + ")"
                    : "; the runs overlap (" + arm.name + " up to " + fmt(xa.back()) + ", " + base.name + " from " +
                          fmt(xb.front()) + "): within the run-to-run spread";
  return verdict(arm, base, claim, apart ? std::optional<bool>(true) : std::nullopt, evidence, covers);
}

// Smaller generalization gap: per shared seed gap(arm) − gap(baseline). The gap is a figure of each run
// (its selection set's loss − train loss) with no per-example values, so over seeds the interval is
// the seeds' alone; one seed gives the sign for that run only.
json gap_verdict(const Arm& arm, const Arm& base, const ComparisonOptions& o) {
  const std::string claim = "smaller generalization gap", key = "generalization_gap";
  const Formatter fmt = [](double v) { return format_fixed(v, 4); };
  std::vector<std::vector<double>> diffs;
  for (const RunRecord* r : arm.runs)
    if (const RunRecord* b = base.run_for_seed(r->info.seed)) diffs.push_back({*r->values.at(key) - *b->values.at(key)});
  std::string evidence = arm.name + " " + with_spread(*arm.stat(key), fmt) + " vs " + base.name + " " + with_spread(*base.stat(key), fmt);
  if (diffs.empty()) return verdict(arm, base, claim, std::nullopt, evidence + "; no seed ran in both arms");
  const RunsEstimate est = two_level_bootstrap_mean(diffs, false, o.bootstrap_resamples, o.bootstrap_seed);
  if (!est.covers_training_runs())
    return verdict(arm, base, claim, est.point < 0, evidence + "; one run per arm, so no interval", Covers::kOneRun);
  const BootstrapCI ci = est.interval(o.confidence);
  evidence += "; paired by seed, difference " + fmt(ci.diff) + ", " + interval_text(est, o.confidence, fmt);
  const std::optional<bool> holds = ci.hi < 0 ? std::optional<bool>(true) : ci.lo > 0 ? std::optional<bool>(false) : std::nullopt;
  return verdict(arm, base, claim, holds, evidence, Covers::kRuns);
}

json parameters_verdict(const Arm& arm, const Arm& base) {
  const std::string claim = "trainable parameters reduced ≥ 99%";
  const std::optional<double> r = reduction_percent(arm, base, "trainable_params");
  if (!r) return verdict(arm, base, claim, std::nullopt, "baseline trains no parameters");
  const std::string evidence = format_count(std::llround(arm.stat("trainable_params")->mean)) + " vs " +
                               format_count(std::llround(base.stat("trainable_params")->mean)) +
                               " trainable, " + format_percent(*r, 2) + " fewer";
  return verdict(arm, base, claim, *r >= 99.0, evidence);
}

std::string pp(double fraction_diff) {
  const double points = 100.0 * fraction_diff;
  return (points >= 0 ? "+" : "") + format_fixed(points, 2);
}

json pair_json(const Arm& arm, const Arm& base, int64_t seed, std::map<std::string, Predictions>& cache,
               const ComparisonOptions& o) {
  json j = {{"arm", arm.name}, {"baseline", base.name}, {"seed", seed}};
  const std::string pa = join_path(arm.run_for_seed(seed)->info.dir, kPredictionsFile);
  const std::string pb = join_path(base.run_for_seed(seed)->info.dir, kPredictionsFile);
  for (const std::string& path : {pa, pb}) {
    if (!file_exists(path)) {
      j["missing"] = path + " not found";
      warn("no paired tests for " + arm.name + " vs " + base.name + " seed " + std::to_string(seed) + ": " + path +
           " not found");
      return j;
    }
    if (!cache.count(path)) cache[path] = read_predictions(path);
  }
  const Predictions &a = cache[pa], &b = cache[pb];
  check_same_examples(a, b);
  const McNemarResult m = mcnemar_exact(a.labels, a.preds, b.preds);
  const BootstrapCI ci =
      paired_bootstrap_accuracy_diff(a.labels, a.preds, b.preds, o.bootstrap_resamples, o.bootstrap_seed, o.confidence);
  j["n"] = a.labels.size();
  j["mcnemar"] = {{"b", m.b}, {"c", m.c}, {"p_value", m.p_value}};
  j["bootstrap"] = {{"diff", ci.diff}, {"lo", ci.lo}, {"hi", ci.hi}, {"resamples", ci.resamples},
                    {"seed", ci.seed}, {"confidence", ci.confidence}};
  const Equivalence e = tost_equivalence(paired_differences(a.labels, a.preds, b.preds), o.equivalence_margin,
                                         o.bootstrap_resamples, o.bootstrap_seed, o.alpha);
  j["equivalence"] = {{"lo", e.ci.lo}, {"hi", e.ci.hi}, {"confidence", e.ci.confidence}, {"inside", e.equivalent}};
  return j;
}

// acc(arm) − acc(baseline) over the seeds both arms scored, paired by seed and example (the pairs
// with predictions); nullopt when there are none.
std::optional<RunsEstimate> accuracy_over_seeds(const Arm& arm, const Arm& base, const json& pairs,
                                                const std::map<std::string, Predictions>& cache, const ComparisonOptions& o) {
  std::vector<std::vector<double>> diffs;
  std::vector<const Predictions*> files;
  for (const json& p : pairs) {
    if (p["arm"] != arm.name || !p.contains("mcnemar")) continue;
    const int64_t seed = p["seed"];
    const Predictions& a = cache.at(join_path(arm.run_for_seed(seed)->info.dir, kPredictionsFile));
    const Predictions& b = cache.at(join_path(base.run_for_seed(seed)->info.dir, kPredictionsFile));
    diffs.push_back(paired_differences(a.labels, a.preds, b.preds));
    files.push_back(&a);
  }
  if (diffs.empty()) return std::nullopt;
  return two_level_bootstrap_mean(diffs, same_examples(files), o.bootstrap_resamples, o.bootstrap_seed);
}

// Per seed: the paired tests on that seed's test examples, for the evidence.
std::vector<std::string> per_seed_accuracy(const Arm& arm, const json& pairs, const ComparisonOptions& o) {
  std::vector<std::string> parts;
  for (const json& p : pairs) {
    if (p["arm"] != arm.name) continue;
    const std::string seed = "seed " + std::to_string(p["seed"].get<int64_t>());
    if (!p.contains("mcnemar")) {
      parts.push_back(seed + ": " + p["missing"].get<std::string>());
      continue;
    }
    parts.push_back(seed + ": diff " + pp(p["bootstrap"]["diff"]) + " pp, " + format_fixed(100 * o.confidence, 0) + "% CI [" +
                    pp(p["bootstrap"]["lo"]) + ", " + pp(p["bootstrap"]["hi"]) + "] pp, McNemar b=" +
                    std::to_string(p["mcnemar"]["b"].get<int64_t>()) + " c=" + std::to_string(p["mcnemar"]["c"].get<int64_t>()) +
                    " p=" + format_p_value(p["mcnemar"]["p_value"]));
  }
  return parts;
}

std::string joined(const std::vector<std::string>& parts) {
  std::string out;
  for (size_t i = 0; i < parts.size(); ++i) out += (i ? "; " : "") + parts[i];
  return out;
}

// One training run per arm: McNemar p >= alpha and the seed's interval holds 0. Several: the interval
// over seeds holds 0 (the per-seed tests ignore training variance and stay as evidence only).
json accuracy_verdict(const Arm& arm, const Arm& base, const json& pairs, const std::optional<RunsEstimate>& est,
                      const ComparisonOptions& o) {
  const std::string claim = "accuracy equal within noise";
  std::vector<std::string> parts = per_seed_accuracy(arm, pairs, o);
  if (!est) {
    parts.insert(parts.begin(), "no seed with predictions from both arms");
    return verdict(arm, base, claim, std::nullopt, joined(parts));
  }
  const BootstrapCI ci = est->interval(o.confidence);
  bool equal = ci.lo <= 0 && ci.hi >= 0;
  if (!est->covers_training_runs()) {
    for (const json& p : pairs)
      if (p["arm"] == arm.name && p.contains("mcnemar")) equal = equal && p["mcnemar"]["p_value"].get<double>() >= o.alpha;
  } else {
    parts.push_back("mean diff " + pp(ci.diff) + " pp, " + interval_text(*est, o.confidence, pp, " pp"));
  }
  return verdict(arm, base, claim, equal, joined(parts), covers_of(*est));
}

json equivalence_verdict(const Arm& arm, const Arm& base, const json& pairs, const std::optional<RunsEstimate>& est,
                         const ComparisonOptions& o) {
  const std::string margin = "±" + format_points(o.equivalence_margin) + " pp";
  const std::string claim = "accuracy equivalent within " + margin;
  if (!est) return verdict(arm, base, claim, std::nullopt, "no seed with predictions from both arms");
  std::vector<std::string> parts;
  const double tost = 1 - 2 * o.alpha;
  const std::string conf = format_fixed(100 * tost, 0) + "% CI";
  for (const json& p : pairs)
    if (p["arm"] == arm.name && p.contains("equivalence"))
      parts.push_back("seed " + std::to_string(p["seed"].get<int64_t>()) + ": diff " + pp(p["bootstrap"]["diff"]) + " pp, " +
                      conf + " [" + pp(p["equivalence"]["lo"]) + ", " + pp(p["equivalence"]["hi"]) + "] pp");
  const BootstrapCI ci = est->interval(tost);
  if (est->covers_training_runs()) parts.push_back("mean diff " + pp(ci.diff) + " pp, " + interval_text(*est, tost, pp, " pp"));
  const bool inside = inside_margin(ci.lo, ci.hi, o.equivalence_margin);
  parts.push_back(std::string(inside ? "inside " : "not inside ") + margin);
  return verdict(arm, base, claim, inside, joined(parts), covers_of(*est));
}

// Accuracy and F1 of one arm, means over its seeds with their intervals (the dashboard's error bars);
// nullopt when a run has no predictions.tsv.
std::optional<std::vector<RunsEstimate>> arm_quality(const Arm& arm, std::map<std::string, Predictions>& cache,
                                                     const ComparisonOptions& o) {
  std::vector<const Predictions*> files;
  for (const RunRecord* r : arm.runs) {
    const std::string path = join_path(r->info.dir, kPredictionsFile);
    if (!file_exists(path)) return std::nullopt;
    files.push_back(&cached(cache, path));
  }
  int64_t labels = 2;
  for (const Predictions* f : files)
    for (size_t i = 0; i < f->labels.size(); ++i) labels = std::max({labels, f->labels[i] + 1, f->preds[i] + 1});
  std::vector<size_t> sizes;
  for (const Predictions* f : files) sizes.push_back(f->labels.size());
  std::vector<int64_t> y, p;
  const RunStatistic quality = [&](size_t s, const std::vector<size_t>* sample, double* out) {
    const Predictions& f = *files[s];
    if (sample) {
      y.clear();
      p.clear();
      for (size_t i : *sample) {
        y.push_back(f.labels[i]);
        p.push_back(f.preds[i]);
      }
    }
    const train::ClassificationMetrics m = train::classification_metrics(sample ? y : f.labels, sample ? p : f.preds, static_cast<int>(labels));
    out[0] = m.accuracy;
    out[1] = m.f1;
  };
  return two_level_bootstrap(sizes, same_examples(files), 2, quality, o.bootstrap_resamples, o.bootstrap_seed);
}

const std::vector<std::string> kReducedKeys = {"trainable_params", "peak_memory_bytes", "train_runtime_s",
                                               "checkpoint_bytes"};

json arm_json(const Arm& arm, const Arm& base) {
  json seeds = json::array(), metrics = json::object(), reductions = json::object();
  for (const RunRecord* r : arm.runs) seeds.push_back(r->info.seed);
  for (const auto& kv : arm.stats) metrics[kv.first] = stat_json(arm, kv.first);
  for (const std::string& key : kReducedKeys) {
    const auto r = reduction_percent(arm, base, key);
    reductions[key] = r ? json(*r) : json(nullptr);
  }
  return {{"arm", arm.name},         {"method", arm.method},
          {"model", common(arm.runs, &RunRecord::model)},
          {"device", arm.device},    {"memory_source", arm.memory_source},
          {"seeds", seeds},          {"n_runs", arm.runs.size()}, {"concurrent_runs", arm.concurrent_runs},
          {"metrics", metrics},      {"reduction_percent", reductions}};
}

// What `finetune robustness` left in <run>/robustness/robustness.json.
const char* const kRobustnessFile = "robustness/robustness.json";

struct PerturbedResult {
  std::string perturbation, name;  // "jamo:0.1", "jamo"; "clean" for the unperturbed set
  double rate = 0, accuracy = 0, changed = 0;
  std::string predictions;  // path of its predictions.tsv
};

struct RobustnessRun {
  const RunRecord* run = nullptr;
  int64_t seed = 0;  // the perturbation seed
  std::vector<PerturbedResult> results;  // clean first

  const PerturbedResult* find(const std::string& perturbation) const {
    for (const PerturbedResult& r : results)
      if (r.perturbation == perturbation) return &r;
    return nullptr;
  }
};

std::optional<RobustnessRun> read_robustness(const RunRecord& run) {
  const std::string file = join_path(run.info.dir, kRobustnessFile);
  if (!file_exists(file)) return std::nullopt;
  const json j = read_json(file);
  if (!j.is_object()) throw Error(file + ": expected a JSON object");
  const json* seed = find_at(j, "/seed");
  if (!seed || !seed->is_number_integer()) throw Error(file + ": missing integer /seed");
  const json* results = find_at(j, "/results");
  if (!results || !results->is_array() || results->empty()) throw Error(file + ": missing /results list");
  RobustnessRun r;
  r.run = &run;
  r.seed = seed->get<int64_t>();
  const std::string dir = std::filesystem::path(file).parent_path().string();
  for (size_t i = 0; i < results->size(); ++i) {
    const std::string at = "/results/" + std::to_string(i);
    PerturbedResult p;
    p.perturbation = optional_string(j, at + "/perturbation", file, "");
    p.name = optional_string(j, at + "/name", file, "");
    if (p.perturbation.empty() || p.name.empty()) throw Error(file + ": missing " + at + "/perturbation or /name");
    p.rate = required_number(j, at + "/rate", file);
    p.accuracy = required_number(j, at + "/accuracy", file);
    p.changed = required_number(j, at + "/changed", file);
    const std::string preds = optional_string(j, at + "/predictions", file, "");
    if (preds.empty()) throw Error(file + ": missing " + at + "/predictions");
    p.predictions = join_path(dir, preds);
    r.results.push_back(p);
  }
  if (r.results.front().perturbation != "clean") throw Error(file + ": /results/0 must be the clean set");
  return r;
}


// Arm vs baseline under one perturbation over their shared seeds: the pair's JSON and its verdict.
std::pair<json, json> robustness_pair(const Arm& arm, const Arm& base, const std::string& perturbation, int64_t pseed,
                                      const std::map<const RunRecord*, RobustnessRun>& robust,
                                      std::map<std::string, Predictions>& cache, const ComparisonOptions& o) {
  const std::string claim = "degrades less under " + perturbation;
  json pair = {{"arm", arm.name}, {"baseline", base.name}, {"perturbation", perturbation}, {"seeds", json::array()},
               {"mcnemar", json::array()}};
  std::vector<std::vector<double>> diffs;
  std::vector<const Predictions*> files;
  std::vector<double> drops_arm, drops_base;
  std::string tests;
  for (const RunRecord* r : arm.runs) {
    const RunRecord* b = base.run_for_seed(r->info.seed);
    if (!b || !robust.count(r) || !robust.count(b)) continue;
    const RobustnessRun &ra = robust.at(r), &rb = robust.at(b);
    const PerturbedResult *pa = ra.find(perturbation), *pb = rb.find(perturbation);
    if (!pa || !pb || ra.seed != pseed || rb.seed != pseed) continue;
    const Predictions& clean_a = cached(cache, ra.results.front().predictions);
    const Predictions& pert_a = cached(cache, pa->predictions);
    const Predictions& clean_b = cached(cache, rb.results.front().predictions);
    const Predictions& pert_b = cached(cache, pb->predictions);
    for (const Predictions* other : {&pert_a, &clean_b, &pert_b}) check_same_examples(clean_a, *other);
    // Per example: (clean − perturbed correctness) of the arm minus the same for the baseline.
    std::vector<double> d(clean_a.labels.size());
    for (size_t i = 0; i < d.size(); ++i) {
      const int64_t y = clean_a.labels[i];
      d[i] = ((clean_a.preds[i] == y) - (pert_a.preds[i] == y)) - ((clean_b.preds[i] == y) - (pert_b.preds[i] == y));
    }
    diffs.push_back(std::move(d));
    files.push_back(&clean_a);
    drops_arm.push_back(ra.results.front().accuracy - pa->accuracy);
    drops_base.push_back(rb.results.front().accuracy - pb->accuracy);
    const McNemarResult m = mcnemar_exact(pert_a.labels, pert_a.preds, pert_b.preds);
    pair["seeds"].push_back(r->info.seed);
    pair["n"] = clean_a.labels.size();
    pair["mcnemar"].push_back({{"seed", r->info.seed}, {"b", m.b}, {"c", m.c}, {"p_value", m.p_value}});
    tests += "; seed " + std::to_string(r->info.seed) + ": McNemar on the perturbed set b=" + std::to_string(m.b) +
             " c=" + std::to_string(m.c) + " p=" + format_p_value(m.p_value);
  }
  if (diffs.empty())
    return {pair, verdict(arm, base, claim, std::nullopt, "no seed with a robustness run of both arms for " + perturbation)};
  const double drop_arm = mean_std(drops_arm).mean, drop_base = mean_std(drops_base).mean;
  pair["drop_arm"] = drop_arm;
  pair["drop_baseline"] = drop_base;
  std::string evidence = "accuracy drop " + arm.name + " " + pp(drop_arm) + " pp vs " + base.name + " " + pp(drop_base) + " pp";
  if (diffs.size() > 1) evidence += " (means over " + std::to_string(diffs.size()) + " seeds)";
  const RunsEstimate est = two_level_bootstrap_mean(diffs, same_examples(files), o.bootstrap_resamples, o.bootstrap_seed);
  const BootstrapCI ci = est.interval(o.confidence);
  pair["bootstrap"] = interval_json(est, o.confidence);
  evidence += ", difference " + pp(ci.diff) + " pp, " + interval_text(est, o.confidence, pp, " pp") + tests;
  const std::optional<bool> holds = ci.hi < 0 ? std::optional<bool>(true) : ci.lo > 0 ? std::optional<bool>(false) : std::nullopt;
  return {pair, verdict(arm, base, claim, holds, evidence, covers_of(est))};
}

// comparison.json's robustness section (null when no run has one); appends its verdicts.
json robustness_section(const std::vector<Arm>& arms, std::map<std::string, Predictions>& cache,
                        const ComparisonOptions& o, json& verdicts) {
  std::map<const RunRecord*, RobustnessRun> robust;
  std::vector<std::pair<std::string, int64_t>> keys;  // (perturbation, seed) in order of first appearance
  json section = {{"perturbations", json::array()}, {"runs", json::array()}, {"pairs", json::array()}};
  for (const Arm& arm : arms) {
    for (const RunRecord* r : arm.runs) {
      auto rr = read_robustness(*r);
      if (!rr) continue;
      json results = json::array();
      const double clean = rr->results.front().accuracy;
      for (const PerturbedResult& p : rr->results) {
        if (p.perturbation == "clean") continue;
        if (std::find(keys.begin(), keys.end(), std::make_pair(p.perturbation, rr->seed)) == keys.end()) {
          keys.emplace_back(p.perturbation, rr->seed);
          section["perturbations"].push_back(
              {{"perturbation", p.perturbation}, {"name", p.name}, {"rate", p.rate}, {"seed", rr->seed}});
        }
        results.push_back({{"perturbation", p.perturbation}, {"accuracy", p.accuracy}, {"drop", clean - p.accuracy},
                           {"changed", p.changed}});
      }
      section["runs"].push_back({{"arm", arm.name}, {"seed", r->info.seed}, {"perturbation_seed", rr->seed},
                                 {"clean_accuracy", clean}, {"n", cached(cache, rr->results.front().predictions).ids.size()},
                                 {"results", results}});
      robust.emplace(r, std::move(*rr));
    }
  }
  if (robust.empty()) return nullptr;
  const Arm& base = arms.front();
  for (size_t i = 1; i < arms.size(); ++i) {
    for (const auto& [perturbation, pseed] : keys) {
      auto [pair, v] = robustness_pair(arms[i], base, perturbation, pseed, robust, cache, o);
      if (!pair["seeds"].empty()) section["pairs"].push_back(pair);
      verdicts.push_back(v);
    }
  }
  return section;
}


// Arms run at several learning rates (a compare sweep) keep the runs of the rate whose final model
// scored best on the validation set, as mean over seeds; the others leave `records`. Choosing on
// the test set would bias the comparison, so a sweep without a validation set is an error.
json select_sweeps(std::vector<RunRecord>& records) {
  json sweeps = json::array();
  std::vector<std::string> arms;
  for (const RunRecord& r : records)
    if (std::find(arms.begin(), arms.end(), r.info.arm) == arms.end()) arms.push_back(r.info.arm);
  std::vector<bool> keep(records.size(), true);
  for (const std::string& arm : arms) {
    std::vector<double> rates;
    for (const RunRecord& r : records)
      if (r.info.arm == arm && std::find(rates.begin(), rates.end(), r.learning_rate) == rates.end()) rates.push_back(r.learning_rate);
    if (rates.size() < 2) continue;
    std::sort(rates.begin(), rates.end());
    std::string metric;
    for (const RunRecord& r : records) {
      if (r.info.arm != arm) continue;
      const std::string file = join_path(r.info.dir, kResultsFile);
      if (r.selection_set != "validation" || !r.selection_score)
        throw Error(file + ": arm '" + arm + "' ran at several learning rates, but this run has no validation set; choosing "
                    "among them on the test set would bias the comparison (give the arm validation_split or validation_file)");
      if (metric.empty()) metric = r.selection_metric;
      if (r.selection_metric != metric)
        throw Error(file + ": the runs of arm '" + arm + "' were selected on different metrics (" + metric + ", " + r.selection_metric + ")");
    }
    const bool greater = metric.find("loss") == std::string::npos;
    json values = json::array();
    std::vector<int64_t> first_seeds;
    size_t best = 0;
    std::vector<double> scores;
    for (const double rate : rates) {
      std::vector<int64_t> seeds;
      std::vector<double> xs;
      for (const RunRecord& r : records)
        if (r.info.arm == arm && r.learning_rate == rate) {
          seeds.push_back(r.info.seed);
          xs.push_back(*r.selection_score);
        }
      std::sort(seeds.begin(), seeds.end());
      if (values.empty()) first_seeds = seeds;
      if (seeds != first_seeds)
        throw Error("arm '" + arm + "': every learning rate of a sweep needs the same seeds, so their means compare");
      scores.push_back(mean_std(xs).mean);
      if (greater ? scores.back() > scores[best] : scores.back() < scores[best]) best = scores.size() - 1;
      values.push_back({{"learning_rate", rate}, {"seeds", seeds}, {"score", scores.back()}});
    }
    for (size_t i = 0; i < values.size(); ++i) values[i]["chosen"] = i == best;
    for (size_t i = 0; i < records.size(); ++i)
      if (records[i].info.arm == arm && records[i].learning_rate != rates[best]) keep[i] = false;
    sweeps.push_back({{"arm", arm}, {"parameter", "learning_rate"}, {"metric", metric}, {"set", "validation"},
                      {"values", values}, {"chosen", rates[best]}});
  }
  std::vector<RunRecord> kept;
  for (size_t i = 0; i < records.size(); ++i)
    if (keep[i]) kept.push_back(std::move(records[i]));
  records = std::move(kept);
  return sweeps;
}

json ci_json(const BootstrapCI& ci) { return {{"value", ci.diff}, {"lo", ci.lo}, {"hi", ci.hi}}; }

// Reliability diagram data: per non-empty bin, its range, count, accuracy and mean confidence.
json reliability_bins(const CalibrationInputs& x, int bins = 15) {
  std::vector<double> n(static_cast<size_t>(bins)), right(n.size()), conf(n.size());
  for (size_t i = 0; i < x.size(); ++i) {
    const auto b = static_cast<size_t>(calibration_bin(x.confidence[i], bins));
    n[b] += 1;
    right[b] += x.correct[i];
    conf[b] += x.confidence[i];
  }
  json out = json::array();
  for (size_t b = 0; b < n.size(); ++b)
    if (n[b] > 0)
      out.push_back({{"lo", static_cast<double>(b) / bins}, {"hi", static_cast<double>(b + 1) / bins}, {"count", n[b]},
                     {"accuracy", right[b] / n[b]}, {"confidence", conf[b] / n[b]}});
  return out;
}

// ECE, Brier and NLL of arm − baseline, means over the seeds paired in xs_arm and xs_base, on the
// same examples for both arms of a seed.
std::vector<RunsEstimate> calibration_over_seeds(const std::vector<const CalibrationInputs*>& xs_arm,
                                                 const std::vector<const CalibrationInputs*>& xs_base, bool shared,
                                                 const ComparisonOptions& o) {
  std::vector<size_t> sizes;
  for (const CalibrationInputs* x : xs_arm) sizes.push_back(x->size());
  const RunStatistic diff = [&](size_t s, const std::vector<size_t>* sample, double* out) {
    const Calibration a = calibration(*xs_arm[s], sample), b = calibration(*xs_base[s], sample);
    out[0] = a.ece - b.ece;
    out[1] = a.brier - b.brier;
    out[2] = a.nll - b.nll;
  };
  return two_level_bootstrap(sizes, shared, 3, diff, o.bootstrap_resamples, o.bootstrap_seed);
}

// comparison.json's calibration section (null when no run's predictions carry label probabilities):
// ECE, Brier and NLL per run with bootstrap intervals, paired differences against the baseline per
// shared seed, the same over seeds, and the reliability bins; appends a "better calibrated" verdict per
// arm. It holds when the interval of mean ECE(arm) − ECE(baseline) over the shared seeds lies below 0,
// does not hold when above 0, and is undecided otherwise.
json calibration_section(const std::vector<Arm>& arms, std::map<std::string, Predictions>& cache, const ComparisonOptions& o,
                         json& verdicts) {
  const Arm& base = arms.front();
  auto inputs = [&](const RunRecord* r) -> const CalibrationInputs* {
    const std::string path = join_path(r->info.dir, kPredictionsFile);
    if (!file_exists(path)) return nullptr;
    const Predictions& p = cached(cache, path);
    return p.calibration ? &*p.calibration : nullptr;
  };
  json section = {{"bins", 15}, {"runs", json::array()}, {"pairs", json::array()}, {"over_seeds", json::array()}};
  std::set<const RunRecord*> listed;
  auto list_run = [&](const Arm& arm, const RunRecord* r, const BootstrapCI& ece, const BootstrapCI& brier, const BootstrapCI& nll) {
    if (!listed.insert(r).second) return;
    section["runs"].push_back({{"arm", arm.name}, {"seed", r->info.seed}, {"ece", ci_json(ece)}, {"brier", ci_json(brier)},
                               {"nll", ci_json(nll)}, {"reliability", reliability_bins(*inputs(r))}});
  };
  for (size_t i = 1; i < arms.size(); ++i) {
    const Arm& arm = arms[i];
    std::vector<const CalibrationInputs*> xs_arm, xs_base;
    std::vector<std::string> parts;
    std::vector<const Predictions*> files;
    for (const RunRecord* r : arm.runs) {
      const RunRecord* b = base.run_for_seed(r->info.seed);
      const CalibrationInputs *xa = inputs(r), *xb = b ? inputs(b) : nullptr;
      if (!xa || !xb) continue;
      const Predictions& pa = cached(cache, join_path(r->info.dir, kPredictionsFile));
      check_same_examples(pa, cached(cache, join_path(b->info.dir, kPredictionsFile)));
      xs_arm.push_back(xa);
      xs_base.push_back(xb);
      files.push_back(&pa);
      const CalibrationBootstrap cb = paired_calibration_bootstrap(*xa, *xb, o.bootstrap_resamples, o.bootstrap_seed, o.confidence);
      list_run(base, b, cb.ece_b, cb.brier_b, cb.nll_b);
      list_run(arm, r, cb.ece_a, cb.brier_a, cb.nll_a);
      section["pairs"].push_back({{"arm", arm.name}, {"baseline", base.name}, {"seed", r->info.seed},
                                  {"ece_diff", ci_json(cb.ece_diff)}, {"brier_diff", ci_json(cb.brier_diff)},
                                  {"nll_diff", ci_json(cb.nll_diff)}});
      parts.push_back("seed " + std::to_string(r->info.seed) + ": ECE " + format_fixed(cb.a.ece, 4) + " vs " +
                      format_fixed(cb.b.ece, 4) + ", difference " + format_fixed(cb.ece_diff.diff, 4) + ", " +
                      format_fixed(100 * o.confidence, 0) + "% CI [" + format_fixed(cb.ece_diff.lo, 4) + ", " +
                      format_fixed(cb.ece_diff.hi, 4) + "]; Brier " + format_fixed(cb.a.brier, 4) + " vs " +
                      format_fixed(cb.b.brier, 4) + "; NLL " + format_fixed(cb.a.nll, 4) + " vs " + format_fixed(cb.b.nll, 4));
    }
    if (files.empty()) continue;
    const std::vector<RunsEstimate> est = calibration_over_seeds(xs_arm, xs_base, same_examples(files), o);
    section["over_seeds"].push_back({{"arm", arm.name}, {"baseline", base.name}, {"ece_diff", interval_json(est[0], o.confidence)},
                                     {"brier_diff", interval_json(est[1], o.confidence)},
                                     {"nll_diff", interval_json(est[2], o.confidence)}});
    const auto four = [](double v) { return format_fixed(v, 4); };
    const BootstrapCI ece = est[0].interval(o.confidence);
    if (est[0].covers_training_runs())
      parts.push_back("mean ECE difference " + four(ece.diff) + ", " + interval_text(est[0], o.confidence, four) +
                      "; Brier " + four(est[1].point) + ", " + interval_text(est[1], o.confidence, four) + "; NLL " +
                      four(est[2].point) + ", " + interval_text(est[2], o.confidence, four));
    const std::optional<bool> holds = ece.hi < 0 ? std::optional<bool>(true) : ece.lo > 0 ? std::optional<bool>(false) : std::nullopt;
    verdicts.push_back(verdict(arm, base, "better calibrated (ECE)", holds, joined(parts), covers_of(est[0])));
  }
  if (section["runs"].empty()) return nullptr;
  return section;
}

// comparison.json's stability section: per arm and metric (accuracy, generalization gap), the spread
// across seeds and the dispersion permutation test against the baseline; appends a "more stable
// across seeds" verdict (on accuracy) for every arm that changes the method, undecided below 3 seeds.
json stability_section(const std::vector<Arm>& arms, const ComparisonOptions& o, json& verdicts) {
  const Arm& base = arms.front();
  json section = json::array();
  for (size_t i = 1; i < arms.size(); ++i) {
    const Arm& arm = arms[i];
    if (arm.method == base.method) continue;
    const std::string claim = "more stable across seeds (accuracy)";
    if (arm.runs.size() < 3 || base.runs.size() < 3) {
      verdicts.push_back(verdict(arm, base, claim, std::nullopt,
                                 "needs at least 3 seeds per arm (" + arm.name + " has " + std::to_string(arm.runs.size()) +
                                     ", " + base.name + " " + std::to_string(base.runs.size()) + ")"));
      continue;
    }
    std::string evidence;
    std::optional<bool> holds;
    for (const char* key : {"accuracy", "generalization_gap"}) {
      std::vector<double> xa, xb;
      for (const RunRecord* r : arm.runs) xa.push_back(*r->values.at(key));
      for (const RunRecord* r : base.runs) xb.push_back(*r->values.at(key));
      const DispersionTest t = dispersion_permutation_test(xa, xb, o.bootstrap_seed);
      const MeanStd sa = mean_std(xa), sb = mean_std(xb);
      section.push_back({{"arm", arm.name}, {"baseline", base.name}, {"metric", key}, {"std_arm", sa.std}, {"std_baseline", sb.std},
                         {"n_arm", sa.n}, {"n_baseline", sb.n}, {"statistic", t.statistic}, {"p_less", t.p_less},
                         {"p_greater", t.p_greater}, {"permutations", t.permutations}, {"exact", t.exact}});
      const std::string what = std::string(key) == "accuracy" ? "accuracy" : "gap";
      const Formatter fmt = std::string(key) == "accuracy" ? Formatter([](double v) { return format_fixed(100 * v, 2) + " pp"; })
                                                           : Formatter([](double v) { return format_fixed(v, 4); });
      evidence += std::string(evidence.empty() ? "" : "; ") + what + " std " + fmt(sa.std) + " vs " + fmt(sb.std) +
                  ", permutation test on absolute deviations p(less spread) = " + format_p_value(t.p_less) +
                  ", p(more spread) = " + format_p_value(t.p_greater);
      if (what == "accuracy")
        holds = t.p_less <= o.alpha ? std::optional<bool>(true) : t.p_greater <= o.alpha ? std::optional<bool>(false) : std::nullopt;
    }
    verdicts.push_back(verdict(arm, base, claim, holds, evidence));
  }
  return section;
}

}  // namespace

std::vector<RunInfo> discover_runs(const std::string& root) {
  if (!dir_exists(root)) throw Error(root + ": not a directory");
  std::vector<std::string> files;
  for (const std::string& file : files_below(root))
    if (std::filesystem::path(file).filename() == kResultsFile) files.push_back(file);
  if (files.empty()) throw Error(root + ": no " + std::string(kResultsFile) + " found below it");
  std::sort(files.begin(), files.end());
  std::vector<RunInfo> runs;
  for (const std::string& file : files) {
    const json j = read_json(file);
    RunInfo r;
    r.dir = std::filesystem::path(file).parent_path().string();
    r.arm = j.is_object() ? optional_string(j, "/arm", file, "") : "";
    if (r.arm.empty()) throw Error(file + ": missing /arm");
    const json* seed = find_at(j, "/seed");
    if (!seed || !seed->is_number_integer()) throw Error(file + ": missing integer /seed");
    r.seed = seed->get<int64_t>();
    runs.push_back(r);
  }
  return runs;
}

json build_comparison(const std::vector<RunInfo>& runs, const ComparisonOptions& options) {
  if (runs.empty()) throw Error("nothing to compare: no runs given");
  std::vector<RunRecord> records;
  for (const RunInfo& info : runs) records.push_back(read_run(info));
  const json sweeps = select_sweeps(records);

  // Arms in order of first appearance; one run per (arm, seed) so pairing by seed is unambiguous.
  std::vector<std::string> order;
  std::map<std::string, std::vector<const RunRecord*>> by_arm;
  std::map<std::pair<std::string, int64_t>, std::string> seen;
  for (const RunRecord& r : records) {
    const auto key = std::make_pair(r.info.arm, r.info.seed);
    if (seen.count(key))
      throw Error("two runs of arm '" + r.info.arm + "' with seed " + std::to_string(r.info.seed) + ": " + seen[key] +
                  " and " + r.info.dir);
    seen[key] = r.info.dir;
    if (!by_arm.count(r.info.arm)) order.push_back(r.info.arm);
    by_arm[r.info.arm].push_back(&r);
  }
  std::vector<Arm> arms;
  for (const std::string& name : order) arms.push_back(summarize(name, by_arm[name]));

  std::string baseline = options.baseline_arm;
  if (baseline.empty()) {
    for (const Arm& a : arms)
      if (a.method == "full") {
        baseline = a.name;
        break;
      }
    if (baseline.empty())
      throw Error("no arm with method \"full\" to serve as the baseline; name one (--baseline ARM)");
  }
  const auto base_it = std::find_if(arms.begin(), arms.end(), [&](const Arm& a) { return a.name == baseline; });
  if (base_it == arms.end()) throw Error("baseline arm '" + baseline + "' is not among the runs");
  // The baseline leads every table and chart.
  std::rotate(arms.begin(), base_it, base_it + 1);
  const Arm& base = arms.front();

  json j;
  j["baseline"] = base.name;
  j["options"] = {{"bootstrap_resamples", options.bootstrap_resamples}, {"bootstrap_seed", options.bootstrap_seed},
                  {"confidence", options.confidence}, {"alpha", options.alpha},
                  {"equivalence_margin", options.equivalence_margin}, {"resource_margin", options.resource_margin}};
  j["runs"] = json::array();
  for (const RunRecord& r : records)
    j["runs"].push_back({{"arm", r.info.arm}, {"seed", r.info.seed}, {"method", r.method}, {"dir", r.info.dir},
                         {"learning_rate", r.learning_rate}, {"selection_set", r.selection_set},
                         {"machine", r.machine}, {"concurrent_runs", r.concurrent_runs},
                         {"accuracy", *r.values.at("accuracy")}, {"f1", *r.values.at("f1")}});
  if (!sweeps.empty()) j["sweeps"] = sweeps;
  std::map<std::string, Predictions> cache;
  j["arms"] = json::array();
  for (const Arm& a : arms) {
    json aj = arm_json(a, base);
    if (const auto q = arm_quality(a, cache, options))
      aj["intervals"] = {{"accuracy", interval_json((*q)[0], options.confidence)}, {"f1", interval_json((*q)[1], options.confidence)}};
    j["arms"].push_back(aj);
  }

  j["pairs"] = json::array();
  j["accuracy_over_seeds"] = json::array();
  j["verdicts"] = json::array();
  const Formatter bytes = [](double v) { return format_bytes(v); };
  const Formatter duration = [](double v) { return format_duration(v); };
  for (size_t i = 1; i < arms.size(); ++i) {
    const Arm& arm = arms[i];
    for (const RunRecord* r : arm.runs)
      if (base.run_for_seed(r->info.seed)) j["pairs"].push_back(pair_json(arm, base, r->info.seed, cache, options));
    // The study's cost claims are about swapping the method (LoRA for full); between arms of one method
    // (an lr sweep, pretrained vs random init) only the accuracy question is meaningful.
    const std::optional<RunsEstimate> accuracy = accuracy_over_seeds(arm, base, j["pairs"], cache, options);
    if (accuracy)
      j["accuracy_over_seeds"].push_back({{"arm", arm.name}, {"baseline", base.name},
                                          {"ci", interval_json(*accuracy, options.confidence)},
                                          {"equivalence", interval_json(*accuracy, 1 - 2 * options.alpha)}});
    if (arm.method == base.method) {
      j["verdicts"].push_back(accuracy_verdict(arm, base, j["pairs"], accuracy, options));
      j["verdicts"].push_back(equivalence_verdict(arm, base, j["pairs"], accuracy, options));
      continue;
    }
    j["verdicts"].push_back(parameters_verdict(arm, base));
    j["verdicts"].push_back(accuracy_verdict(arm, base, j["pairs"], accuracy, options));
    j["verdicts"].push_back(equivalence_verdict(arm, base, j["pairs"], accuracy, options));
    j["verdicts"].push_back(resource_verdict(arm, base, "memory reduced", "peak_memory_bytes", bytes, options));
    j["verdicts"].push_back(resource_verdict(arm, base, "faster", "train_runtime_s", duration, options));
    j["verdicts"].push_back(gap_verdict(arm, base, options));
  }
  const json robustness = robustness_section(arms, cache, options, j["verdicts"]);
  if (!robustness.is_null()) j["robustness"] = robustness;
  const json calibration = calibration_section(arms, cache, options, j["verdicts"]);
  if (!calibration.is_null()) j["calibration"] = calibration;
  j["stability"] = stability_section(arms, options, j["verdicts"]);
  return j;
}

json write_comparison_outputs(const std::string& out_dir, const std::vector<RunInfo>& runs,
                              const ComparisonOptions& options) {
  const json comparison = build_comparison(runs, options);
  make_dirs(out_dir);
  write_json_atomic(join_path(out_dir, "comparison.json"), comparison);
  write_file_atomic(join_path(out_dir, "report.md"), render_markdown(comparison));
  write_dashboard(comparison, join_path(out_dir, "dashboard.png"));
  write_tradeoff(comparison, join_path(out_dir, "tradeoff.png"));
  if (comparison.contains("robustness") || comparison.contains("calibration"))
    write_robustness_chart(comparison, join_path(out_dir, "robustness.png"));
  return comparison;
}

std::string verdict_lines(const json& comparison) {
  std::string out;
  for (const auto& v : comparison.at("verdicts")) {
    out += v["arm"].get<std::string>() + " vs " + v["baseline"].get<std::string>() + ": " + v["claim"].get<std::string>() +
           ": " + v["status"].get<std::string>() + " — " + v["evidence"].get<std::string>() + "\n";
  }
  return out;
}

}  // namespace ft::report
