#include "report/comparison.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <functional>
#include <map>
#include <optional>
#include <sstream>

#include "core/error.h"
#include "core/files.h"
#include "core/log.h"
#include "report/dashboard.h"
#include "report/format.h"
#include "report/markdown.h"
#include "report/stats.h"

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
  std::string method, model, device, memory_source;
  std::map<std::string, std::optional<double>> values;
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
  v["accuracy"] = required_number(j, "/eval/final/accuracy", file);
  v["f1"] = required_number(j, "/eval/final/f1", file);
  v["eval_loss"] = required_number(j, "/eval/final/loss", file);
  v["train_loss"] = required_number(j, "/train/final_loss", file);
  v["generalization_gap"] = required_number(j, "/generalization_gap", file);
  return r;
}

struct Predictions {
  std::string path;
  std::vector<std::string> ids;
  std::vector<int64_t> labels, preds;
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
    p.ids.push_back(field("id"));
    p.labels.push_back(integer("label"));
    p.preds.push_back(integer("prediction"));
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
  }
  return arm;
}

json stat_json(const std::optional<MeanStd>& s) {
  if (!s) return nullptr;
  json j = {{"mean", s->mean}, {"n", s->n}};
  if (s->n > 1) j["std"] = s->std;
  return j;
}

bool several_seeds(const Arm& a, const Arm& b) { return a.runs.size() > 1 && b.runs.size() > 1; }

double combined_std(const MeanStd& a, const MeanStd& b) { return std::sqrt(a.std * a.std + b.std * b.std); }

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
  if (!arm.stat(key) || !base.stat(key)) return "not measured in every run";
  return "";
}

std::optional<double> reduction_percent(const Arm& arm, const Arm& base, const std::string& key) {
  if (!incomparable(arm, base, key).empty() || base.stat(key)->mean == 0) return std::nullopt;
  const double b = base.stat(key)->mean;
  return 100.0 * (b - arm.stat(key)->mean) / b;
}

json verdict(const Arm& arm, const Arm& base, const std::string& claim, std::optional<bool> holds,
             const std::string& evidence) {
  return {{"arm", arm.name}, {"baseline", base.name}, {"claim", claim},
          {"holds", holds ? json(*holds) : json(nullptr)}, {"evidence", evidence}};
}

// "memory reduced", "faster", "smaller generalization gap": lower is the claim.
json lower_than_baseline(const Arm& arm, const Arm& base, const std::string& claim, const std::string& key,
                         const Formatter& fmt) {
  if (const std::string why = incomparable(arm, base, key); !why.empty())
    return verdict(arm, base, claim, std::nullopt, why);
  const MeanStd a = *arm.stat(key), b = *base.stat(key);
  std::string evidence = arm.name + " " + with_spread(a, fmt) + " vs " + base.name + " " + with_spread(b, fmt);
  // Relative to |baseline| so a negative baseline (a gap can be < 0) still reads the right way round.
  if (b.mean != 0) {
    const double change = 100.0 * (b.mean - a.mean) / std::abs(b.mean);
    evidence += ", " + format_percent(std::abs(change), 1) + (change >= 0 ? " lower" : " higher");
  }
  bool holds = a.mean < b.mean;
  if (holds && several_seeds(arm, base)) {
    const double noise = combined_std(a, b);
    holds = b.mean - a.mean > noise;
    evidence += "; difference " + fmt(b.mean - a.mean) + (holds ? " > " : " <= ") + "combined std " + fmt(noise);
  }
  return verdict(arm, base, claim, holds, evidence);
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

json accuracy_verdict(const Arm& arm, const Arm& base, const json& pairs, const ComparisonOptions& o) {
  const std::string claim = "accuracy equal within noise";
  std::vector<std::string> parts;
  bool all_equal = true;
  int tested = 0;
  for (const json& p : pairs) {
    if (p["arm"] != arm.name) continue;
    if (!p.contains("mcnemar")) {
      parts.push_back("seed " + std::to_string(p["seed"].get<int64_t>()) + ": " + p["missing"].get<std::string>());
      continue;
    }
    ++tested;
    const double pv = p["mcnemar"]["p_value"], lo = p["bootstrap"]["lo"], hi = p["bootstrap"]["hi"];
    const bool equal = pv >= o.alpha && lo <= 0 && hi >= 0;
    all_equal = all_equal && equal;
    parts.push_back("seed " + std::to_string(p["seed"].get<int64_t>()) + ": diff " + pp(p["bootstrap"]["diff"]) +
                    " pp, " + format_fixed(100 * o.confidence, 0) + "% CI [" + pp(lo) + ", " + pp(hi) +
                    "] pp, McNemar b=" + std::to_string(p["mcnemar"]["b"].get<int64_t>()) +
                    " c=" + std::to_string(p["mcnemar"]["c"].get<int64_t>()) + " p=" + format_p_value(pv));
  }
  if (tested == 0) {
    parts.insert(parts.begin(), "no seed with predictions from both arms");
  } else if (several_seeds(arm, base)) {
    const MeanStd a = *arm.stat("accuracy"), b = *base.stat("accuracy");
    const double diff = std::fabs(a.mean - b.mean), noise = combined_std(a, b);
    all_equal = all_equal && diff <= noise;
    parts.push_back("|mean diff| " + format_fixed(100 * diff, 2) + (diff <= noise ? " <= " : " > ") +
                    "combined std " + format_fixed(100 * noise, 2) + " pp over seeds");
  }
  std::string evidence;
  for (size_t i = 0; i < parts.size(); ++i) evidence += (i ? "; " : "") + parts[i];
  return verdict(arm, base, claim, tested ? std::optional<bool>(all_equal) : std::nullopt, evidence);
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

// Per-example means over seeds of `per_seed` values, when every seed scored the same examples
// (the files' ids and labels agree); nullopt otherwise.
std::optional<std::vector<double>> mean_over_seeds(const std::vector<std::vector<double>>& per_seed,
                                                   const std::vector<const Predictions*>& files) {
  for (const Predictions* f : files)
    if (f->ids != files.front()->ids || f->labels != files.front()->labels) return std::nullopt;
  std::vector<double> mean(per_seed.front().size(), 0.0);
  for (const auto& values : per_seed)
    for (size_t i = 0; i < mean.size(); ++i) mean[i] += values[i];
  for (double& m : mean) m /= static_cast<double>(per_seed.size());
  return mean;
}

const char* const kDifferentExamples =
    "the seeds scored different examples (seeded eval subsets), so there is no per-example mean over seeds";

json equivalence_verdict(const Arm& arm, const Arm& base, const json& pairs, const std::map<std::string, Predictions>& cache,
                         const ComparisonOptions& o) {
  const std::string margin = "±" + format_points(o.equivalence_margin) + " pp";
  const std::string claim = "accuracy equivalent within " + margin;
  const std::string conf = format_fixed(100 * (1 - 2 * o.alpha), 0) + "% CI";
  std::vector<std::string> parts;
  std::vector<std::vector<double>> diffs;
  std::vector<const Predictions*> files;
  std::optional<bool> holds;
  for (const json& p : pairs) {
    if (p["arm"] != arm.name || !p.contains("equivalence")) continue;
    const int64_t seed = p["seed"];
    const Predictions& a = cache.at(join_path(arm.run_for_seed(seed)->info.dir, kPredictionsFile));
    const Predictions& b = cache.at(join_path(base.run_for_seed(seed)->info.dir, kPredictionsFile));
    diffs.push_back(paired_differences(a.labels, a.preds, b.preds));
    files.push_back(&a);
    const json& e = p["equivalence"];
    holds = e["inside"].get<bool>();
    parts.push_back("seed " + std::to_string(seed) + ": diff " + pp(p["bootstrap"]["diff"]) + " pp, " + conf + " [" +
                    pp(e["lo"]) + ", " + pp(e["hi"]) + "] pp");
  }
  if (diffs.empty()) return verdict(arm, base, claim, std::nullopt, "no seed with predictions from both arms");
  if (diffs.size() > 1) {
    if (const auto mean = mean_over_seeds(diffs, files)) {
      const Equivalence e = tost_equivalence(*mean, o.equivalence_margin, o.bootstrap_resamples, o.bootstrap_seed, o.alpha);
      holds = e.equivalent;
      parts.push_back("mean over " + std::to_string(diffs.size()) + " seeds: diff " + pp(e.ci.diff) + " pp, " + conf +
                      " [" + pp(e.ci.lo) + ", " + pp(e.ci.hi) + "] pp");
    } else {
      holds = std::nullopt;
      parts.push_back(kDifferentExamples);
    }
  }
  if (holds) parts.push_back(std::string(*holds ? "inside " : "not inside ") + margin);
  std::string evidence;
  for (size_t i = 0; i < parts.size(); ++i) evidence += (i ? "; " : "") + parts[i];
  return verdict(arm, base, claim, holds, evidence);
}

const std::vector<std::string> kReducedKeys = {"trainable_params", "peak_memory_bytes", "train_runtime_s",
                                               "checkpoint_bytes"};

json arm_json(const Arm& arm, const Arm& base) {
  json seeds = json::array(), metrics = json::object(), reductions = json::object();
  for (const RunRecord* r : arm.runs) seeds.push_back(r->info.seed);
  for (const auto& kv : arm.stats) metrics[kv.first] = stat_json(kv.second);
  for (const std::string& key : kReducedKeys) {
    const auto r = reduction_percent(arm, base, key);
    reductions[key] = r ? json(*r) : json(nullptr);
  }
  return {{"arm", arm.name},         {"method", arm.method},
          {"model", common(arm.runs, &RunRecord::model)},
          {"device", arm.device},    {"memory_source", arm.memory_source},
          {"seeds", seeds},          {"n_runs", arm.runs.size()},
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

const Predictions& cached(std::map<std::string, Predictions>& cache, const std::string& path) {
  if (!cache.count(path)) cache[path] = read_predictions(path);
  return cache[path];
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
  const auto mean = mean_over_seeds(diffs, files);
  if (!mean) return {pair, verdict(arm, base, claim, std::nullopt, evidence + "; " + kDifferentExamples + tests)};
  const BootstrapCI ci = bootstrap_mean(*mean, o.bootstrap_resamples, o.bootstrap_seed, o.confidence);
  pair["bootstrap"] = {{"diff", ci.diff}, {"lo", ci.lo}, {"hi", ci.hi}, {"resamples", ci.resamples},
                       {"seed", ci.seed}, {"confidence", ci.confidence}};
  evidence += ", difference " + pp(ci.diff) + " pp, " + format_fixed(100 * o.confidence, 0) + "% CI [" + pp(ci.lo) +
              ", " + pp(ci.hi) + "] pp" + tests;
  const std::optional<bool> holds = ci.hi < 0 ? std::optional<bool>(true) : ci.lo > 0 ? std::optional<bool>(false) : std::nullopt;
  return {pair, verdict(arm, base, claim, holds, evidence)};
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
                                 {"clean_accuracy", clean}, {"results", results}});
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
                  {"equivalence_margin", options.equivalence_margin}};
  j["runs"] = json::array();
  for (const RunRecord& r : records)
    j["runs"].push_back({{"arm", r.info.arm}, {"seed", r.info.seed}, {"method", r.method}, {"dir", r.info.dir}});
  j["arms"] = json::array();
  for (const Arm& a : arms) j["arms"].push_back(arm_json(a, base));

  std::map<std::string, Predictions> cache;
  j["pairs"] = json::array();
  j["verdicts"] = json::array();
  const Formatter bytes = [](double v) { return format_bytes(v); };
  const Formatter duration = [](double v) { return format_duration(v); };
  const Formatter loss = [](double v) { return format_fixed(v, 4); };
  for (size_t i = 1; i < arms.size(); ++i) {
    const Arm& arm = arms[i];
    for (const RunRecord* r : arm.runs)
      if (base.run_for_seed(r->info.seed)) j["pairs"].push_back(pair_json(arm, base, r->info.seed, cache, options));
    // The study's cost claims are about swapping the method (LoRA for full); between arms of one method
    // (an lr sweep, pretrained vs random init) only the accuracy question is meaningful.
    if (arm.method == base.method) {
      j["verdicts"].push_back(accuracy_verdict(arm, base, j["pairs"], options));
      j["verdicts"].push_back(equivalence_verdict(arm, base, j["pairs"], cache, options));
      continue;
    }
    j["verdicts"].push_back(parameters_verdict(arm, base));
    j["verdicts"].push_back(accuracy_verdict(arm, base, j["pairs"], options));
    j["verdicts"].push_back(equivalence_verdict(arm, base, j["pairs"], cache, options));
    j["verdicts"].push_back(lower_than_baseline(arm, base, "memory reduced", "peak_memory_bytes", bytes));
    j["verdicts"].push_back(lower_than_baseline(arm, base, "faster", "train_runtime_s", duration));
    j["verdicts"].push_back(lower_than_baseline(arm, base, "smaller generalization gap", "generalization_gap", loss));
  }
  const json robustness = robustness_section(arms, cache, options, j["verdicts"]);
  if (!robustness.is_null()) j["robustness"] = robustness;
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
  return comparison;
}

std::string verdict_lines(const json& comparison) {
  std::string out;
  for (const auto& v : comparison.at("verdicts")) {
    const auto& h = v["holds"];
    out += v["arm"].get<std::string>() + " vs " + v["baseline"].get<std::string>() + ": " + v["claim"].get<std::string>() +
           ": " + (h.is_null() ? "undecided" : h.get<bool>() ? "holds" : "does not hold") + " — " +
           v["evidence"].get<std::string>() + "\n";
  }
  return out;
}

}  // namespace ft::report
