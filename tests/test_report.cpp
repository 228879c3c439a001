// Comparison, report and charts from synthetic run folders with known figures and predictions.
#include <gtest/gtest.h>
#include <unistd.h>
#include <sys/wait.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>

#include "core/error.h"
#include "core/files.h"
#include "report/comparison.h"
#include "report/dashboard.h"
#include "report/format.h"
#include "report/markdown.h"
#include "test_util.h"

namespace {

using nlohmann::json;
using namespace ft::report;
using ft::testing::TempDir;

constexpr int64_t kExamples = 1000;

// Labels alternate 0/1; the run gets exactly the examples in [wrong_from, wrong_to) wrong.
struct Wrong {
  int64_t from = 0, to = 0;
};

struct FakeRun {
  std::string arm = "full", method = "full";
  int64_t seed = 42;
  int64_t trainable = 110619650, total = 110619650;
  double f1 = 0.9, eval_loss = 0.27, train_loss = 0.25, gap = 0.02, runtime_s = 100;
  double peak_rss_bytes = 2e9, cuda_peak_bytes = 0, checkpoint_bytes = 420e6;
  std::string device = "cpu";
  Wrong wrong{0, 100};
  bool predictions = true;
  bool random_init = false;
  int64_t id_offset = 0;  // another offset: another set of examples
  double learning_rate = 2e-5;
  std::optional<double> validation_loss;  // set: the run chose on a validation set with this final loss
  double confidence = -1;  // >= 0: predictions carry label probabilities, every prediction this confident
  int concurrent_runs = 1;
  std::vector<double> tensor_bytes;  // weights, gradients, AdamW state (absent: runs before they were recorded)
};

int64_t label_of(int64_t i) { return i % 2; }

std::string predictions_tsv(const Wrong& w, int64_t id_offset = 0, double confidence = -1) {
  std::string tsv = std::string("id\tlabel\tprediction\tprobability") + (confidence >= 0 ? "\tlabel_probability\n" : "\n");
  for (int64_t i = 0; i < kExamples; ++i) {
    const bool wrong = i >= w.from && i < w.to;
    const int64_t pred = wrong ? 1 - label_of(i) : label_of(i);
    tsv += std::to_string(i + id_offset) + "\t" + std::to_string(label_of(i)) + "\t" + std::to_string(pred);
    tsv += confidence >= 0 ? "\t" + std::to_string(confidence) + "\t" + std::to_string(wrong ? 1 - confidence : confidence) + "\n"
                           : "\t0.9\n";
  }
  return tsv;
}

void write_run(const std::string& dir, const FakeRun& r) {
  ft::make_dirs(dir);
  const double accuracy = 1.0 - static_cast<double>(r.wrong.to - r.wrong.from) / kExamples;
  const json eval = {{"loss", r.eval_loss}, {"accuracy", accuracy}, {"f1", r.f1}, {"n", kExamples}};
  json results = {
      {"arm", r.arm},
      {"method", r.method},
      {"seed", r.seed},
      {"model", "klue/roberta-base"},
      {"random_init", r.random_init},
      {"parameters", {{"trainable", r.trainable}, {"total", r.total}}},
      {"train", {{"final_loss", r.train_loss}, {"runtime_s", r.runtime_s}}},
      {"eval", {{"final", eval}, {"best", eval}}},
      {"generalization_gap", r.gap},
      {"memory", {{"peak_rss_bytes", r.peak_rss_bytes}, {"cuda_peak_allocated_bytes", r.cuda_peak_bytes}}},
      {"checkpoint", {{"path", "checkpoint"}, {"bytes", r.checkpoint_bytes}}},
      {"environment", {{"device", r.device}}},
      {"hyperparameters", {{"learning_rate", r.learning_rate}, {"metric_for_best_model", "eval_loss"}}}};
  results["environment"]["concurrent_runs"] = r.concurrent_runs;
  if (!r.tensor_bytes.empty())
    for (size_t k = 0; k < 3; ++k)
      results["memory"][std::vector<std::string>{"parameter_bytes", "gradient_bytes", "optimizer_state_bytes"}[k]] = r.tensor_bytes[k];
  if (r.validation_loss) {
    results["data"] = {{"selection_set", "validation"}, {"test_used_for_selection", false}};
    results["validation"] = {{"final", {{"loss", *r.validation_loss}}}};
  }
  ft::write_json_atomic(ft::join_path(dir, "results.json"), results);
  // Loss falls over three epochs; validation flattens out above train, as fine-tuning does.
  json history = json::array();
  for (int step = 10; step <= 300; step += 10) {
    const double epoch = step / 100.0;
    history.push_back({{"loss", r.train_loss + 0.12 / epoch}, {"learning_rate", 1e-5}, {"epoch", epoch}, {"step", step}});
    if (step % 100 == 0)
      history.push_back(
          {{"eval_loss", r.eval_loss + 0.05 / epoch}, {"eval_accuracy", accuracy}, {"epoch", epoch}, {"step", step}});
  }
  history.push_back({{"train_runtime", r.runtime_s}, {"train_loss", r.train_loss}, {"epoch", 3.0}, {"step", 300}});
  ft::write_json_atomic(ft::join_path(dir, "trainer_state.json"), {{"log_history", history}, {"global_step", 300}});
  if (!r.predictions) return;
  ft::write_file_atomic(ft::join_path(dir, "predictions.tsv"), predictions_tsv(r.wrong, r.id_offset, r.confidence));
}

// <run_dir>/robustness as `finetune robustness` leaves it: the clean set with the run's own mistakes,
// and each perturbation ("name:rate") with the mistakes given.
void write_robustness(const std::string& run_dir, const Wrong& clean,
                      const std::vector<std::pair<std::string, Wrong>>& perturbed, int64_t seed = 42) {
  const std::string dir = ft::join_path(run_dir, "robustness");
  json results = json::array();
  auto add = [&](const std::string& label, const Wrong& w) {
    const std::string rel = "eval/" + label.substr(0, label.find(':')) + "/predictions.tsv";
    ft::make_dirs(ft::join_path(dir, rel.substr(0, rel.rfind('/'))));
    ft::write_file_atomic(ft::join_path(dir, rel), predictions_tsv(w));
    const double rate = label == "clean" ? 0.0 : std::stod(label.substr(label.find(':') + 1));
    results.push_back({{"perturbation", label}, {"name", label.substr(0, label.find(':'))}, {"rate", rate},
                       {"changed", label == "clean" ? 0.0 : 0.5},
                       {"accuracy", 1.0 - static_cast<double>(w.to - w.from) / kExamples}, {"predictions", rel}});
  };
  add("clean", clean);
  for (const auto& [label, w] : perturbed) add(label, w);
  ft::write_json_atomic(ft::join_path(dir, "robustness.json"), {{"seed", seed}, {"results", results}});
}

// The study's shape: LoRA trains 0.8%, uses less memory, runs faster, has a smaller gap.
FakeRun lora_run() {
  FakeRun r;
  r.arm = r.method = "lora";
  r.trainable = 887042;
  r.peak_rss_bytes = 1.2e9;
  r.runtime_s = 73;
  r.checkpoint_bytes = 3.4e6;
  r.gap = 0.0154;
  r.eval_loss = 0.26;
  r.wrong = {10, 110};  // b = 10 (0..9), c = 10 (100..109): equal accuracy, p = 1
  return r;
}

FakeRun full_run() {
  FakeRun r;
  r.gap = 0.1618;
  return r;
}

std::vector<RunInfo> write_runs(const TempDir& tmp, const std::vector<FakeRun>& runs) {
  std::vector<RunInfo> out;
  for (const FakeRun& r : runs) {
    const std::string dir = tmp / (r.arm + "_seed" + std::to_string(r.seed));
    write_run(dir, r);
    out.push_back({r.arm, r.seed, dir});
  }
  return out;
}

const json& arm_of(const json& c, const std::string& name) {
  for (const json& a : c["arms"])
    if (a["arm"] == name) return a;
  throw std::runtime_error("no arm " + name);
}

json verdict_of(const json& c, const std::string& claim) {
  for (const json& v : c["verdicts"])
    if (v["claim"] == claim) return v;
  throw std::runtime_error("no verdict " + claim);
}

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const ft::Error& e) {
    return e.what();
  }
  return "(no ft::Error)";
}

bool have_gnuplot() { return std::system("command -v gnuplot >/dev/null 2>&1") == 0; }

struct PngSize {
  uint32_t width = 0, height = 0;
};

// Width and height from the IHDR chunk, which the PNG format requires first.
PngSize png_size(const std::string& path) {
  const std::string bytes = ft::read_file(path);
  EXPECT_GE(bytes.size(), 24u);
  EXPECT_EQ(bytes.substr(0, 8), std::string("\x89PNG\r\n\x1a\n", 8));
  EXPECT_EQ(bytes.substr(12, 4), "IHDR");
  const auto be32 = [&](size_t at) {
    uint32_t v = 0;
    for (size_t i = 0; i < 4; ++i) v = (v << 8) | static_cast<unsigned char>(bytes[at + i]);
    return v;
  };
  return {be32(16), be32(20)};
}

TEST(ReportFormat, HumanReadableNumbers) {
  EXPECT_EQ(format_count(887042), "887,042");
  EXPECT_EQ(format_count(-1234567), "-1,234,567");
  EXPECT_EQ(format_count(12), "12");
  EXPECT_EQ(format_percent(0.8019), "0.80%");
  EXPECT_EQ(format_bytes(3.4e6), "3.4 MB");
  EXPECT_EQ(format_bytes(420e6), "420.0 MB");
  EXPECT_EQ(format_bytes(512), "512 B");
  EXPECT_EQ(format_bytes(2.5e9), "2.5 GB");
  EXPECT_EQ(format_duration(100), "1m 40s");
  EXPECT_EQ(format_duration(5.24), "5.2s");
  EXPECT_EQ(format_duration(3720), "1h 02m");
  EXPECT_EQ(ft::report::format_p_value(0.72381), "0.7238");
  EXPECT_EQ(ft::report::format_p_value(9.4317e-25), "9.4e-25");
  EXPECT_EQ(format_points(0.01), "1.0");
  EXPECT_EQ(format_points(0.005), "0.5");
  EXPECT_EQ(format_points(0.0025), "0.25");
  EXPECT_EQ(format_points(0.02), "2.0");
}

TEST(ReportComparison, ReductionsAndFiguresMatchHandComputation) {
  TempDir tmp("report");
  const FakeRun full = full_run(), lora = lora_run();
  const json c = build_comparison(write_runs(tmp, {lora, full}));
  EXPECT_EQ(c["baseline"], "full");
  ASSERT_EQ(c["arms"].size(), 2u);
  EXPECT_EQ(c["arms"][0]["arm"], "full") << "the baseline leads";
  const json& a = arm_of(c, "lora");
  const json& m = a["metrics"];
  EXPECT_DOUBLE_EQ(m["trainable_params"]["mean"], 887042);
  EXPECT_EQ(m["trainable_params"]["n"], 1);
  EXPECT_FALSE(m["trainable_params"].contains("std")) << "one seed: no spread";
  EXPECT_DOUBLE_EQ(m["trainable_percent"]["mean"], 100.0 * 887042 / 110619650);
  EXPECT_DOUBLE_EQ(m["accuracy"]["mean"], 0.9);
  EXPECT_DOUBLE_EQ(m["eval_loss"]["mean"], 0.26);
  EXPECT_DOUBLE_EQ(m["generalization_gap"]["mean"], 0.0154);
  const json& r = a["reduction_percent"];
  EXPECT_DOUBLE_EQ(r["trainable_params"], 100.0 * (110619650.0 - 887042) / 110619650);
  EXPECT_DOUBLE_EQ(r["peak_memory_bytes"], 100.0 * (2e9 - 1.2e9) / 2e9);
  EXPECT_DOUBLE_EQ(r["train_runtime_s"], 100.0 * (100 - 73) / 100.0);
  EXPECT_DOUBLE_EQ(r["checkpoint_bytes"], 100.0 * (420e6 - 3.4e6) / 420e6);
  EXPECT_EQ(a["memory_source"], "peak_rss_bytes");
  EXPECT_DOUBLE_EQ(arm_of(c, "full")["reduction_percent"]["train_runtime_s"], 0.0);

  EXPECT_EQ(verdict_of(c, "trainable parameters reduced ≥ 99%")["holds"], true);
  EXPECT_EQ(verdict_of(c, "memory reduced")["holds"], true);
  EXPECT_EQ(verdict_of(c, "faster")["holds"], true);
  EXPECT_EQ(verdict_of(c, "smaller generalization gap")["holds"], true);
  EXPECT_NE(verdict_of(c, "trainable parameters reduced ≥ 99%")["evidence"].get<std::string>().find("887,042"),
            std::string::npos);
  // Survives a round trip through the file format.
  EXPECT_EQ(json::parse(c.dump()), c);
}

TEST(ReportComparison, McNemarCountsAndEqualAccuracy) {
  TempDir tmp("report");
  const json c = build_comparison(write_runs(tmp, {full_run(), lora_run()}));
  ASSERT_EQ(c["pairs"].size(), 1u);
  const json& p = c["pairs"][0];
  EXPECT_EQ(p["seed"], 42);
  EXPECT_EQ(p["n"], kExamples);
  EXPECT_EQ(p["mcnemar"]["b"], 10) << "lora right, full wrong: examples 0..9";
  EXPECT_EQ(p["mcnemar"]["c"], 10) << "lora wrong, full right: examples 100..109";
  EXPECT_DOUBLE_EQ(p["mcnemar"]["p_value"], 1.0);
  EXPECT_DOUBLE_EQ(p["bootstrap"]["diff"], 0.0);
  EXPECT_LE(p["bootstrap"]["lo"].get<double>(), 0.0);
  EXPECT_GE(p["bootstrap"]["hi"].get<double>(), 0.0);
  EXPECT_EQ(p["bootstrap"]["resamples"], 10000);
  EXPECT_EQ(p["bootstrap"]["seed"], 42);
  EXPECT_EQ(verdict_of(c, "accuracy equal within noise")["holds"], true);
}

TEST(ReportComparison, ClearlyDifferentAccuracyIsNotEqual) {
  TempDir tmp("report");
  FakeRun full = full_run(), lora = lora_run();
  full.wrong = {0, 50};
  lora.wrong = {0, 150};  // b = 0, c = 100: lora 10 points worse
  const json c = build_comparison(write_runs(tmp, {full, lora}));
  const json& p = c["pairs"][0];
  EXPECT_EQ(p["mcnemar"]["b"], 0);
  EXPECT_EQ(p["mcnemar"]["c"], 100);
  EXPECT_LT(p["mcnemar"]["p_value"].get<double>(), 1e-20);
  EXPECT_DOUBLE_EQ(p["bootstrap"]["diff"], -0.1);
  EXPECT_LT(p["bootstrap"]["hi"].get<double>(), 0.0);
  const json v = verdict_of(c, "accuracy equal within noise");
  EXPECT_EQ(v["holds"], false);
  EXPECT_NE(v["evidence"].get<std::string>().find("b=0 c=100"), std::string::npos) << v["evidence"];
}

TEST(ReportComparison, SeveralSeedsGiveMeanStdAndTheSpreadRule) {
  TempDir tmp("report");
  std::vector<FakeRun> runs;
  const double full_times[] = {100, 110, 90}, lora_times[] = {99, 101, 100};
  for (int s = 0; s < 3; ++s) {
    FakeRun f = full_run(), l = lora_run();
    f.seed = l.seed = s;
    f.runtime_s = full_times[s];
    l.runtime_s = lora_times[s];
    runs.push_back(f);
    runs.push_back(l);
  }
  const json c = build_comparison(write_runs(tmp, runs));
  const json& t = arm_of(c, "full")["metrics"]["train_runtime_s"];
  EXPECT_DOUBLE_EQ(t["mean"], 100);
  EXPECT_DOUBLE_EQ(t["std"], 10);
  EXPECT_EQ(t["n"], 3);
  EXPECT_EQ(arm_of(c, "lora")["seeds"], json({0, 1, 2}));
  EXPECT_EQ(c["pairs"].size(), 3u);
  // Equal means: not faster. Memory differs far beyond its (zero) spread: reduced.
  EXPECT_EQ(verdict_of(c, "faster")["holds"], false);
  EXPECT_EQ(verdict_of(c, "memory reduced")["holds"], true);
  const json acc = verdict_of(c, "accuracy equal within noise");
  EXPECT_EQ(acc["holds"], true);
  EXPECT_EQ(acc["status"], "holds") << "three seeds: a verdict about the methods";
  EXPECT_EQ(acc["covers"], "training runs (seeds) and test examples");
  EXPECT_NE(acc["evidence"].get<std::string>().find("over 3 seeds (two-level bootstrap"), std::string::npos) << acc["evidence"];

  EXPECT_DOUBLE_EQ(t["median"], 100);
  EXPECT_DOUBLE_EQ(t["min"], 90);
  EXPECT_DOUBLE_EQ(t["max"], 110);
  EXPECT_EQ(verdict_of(c, "faster")["covers"], "run-to-run spread over seeds");

  // Against full's 90, 100, 110 s: lora's median must be more than 5% lower, and every lora run
  // below full's fastest (90 s).
  struct Case {
    double times[3];
    std::optional<bool> holds;
    const char* evidence;
  };
  const Case cases[] = {
      {{94, 96, 95}, false, "5.0% lower (margin 5%)"},  // at the margin: not meaningfully faster
      {{80, 95, 85}, std::nullopt, "within the run-to-run spread"},  // 15% lower, but 95 s > 90 s
      {{80, 85, 88}, true, "every lora run below every full run (1m 28s < 1m 30s; by chance 1 in 20)"},
  };
  for (const Case& k : cases) {
    TempDir tmp2("report");
    for (int s = 0; s < 3; ++s) runs[2 * s + 1].runtime_s = k.times[s];
    const json faster = verdict_of(build_comparison(write_runs(tmp2, runs)), "faster");
    EXPECT_EQ(faster["holds"], k.holds ? json(*k.holds) : json(nullptr)) << faster["evidence"];
    EXPECT_NE(faster["evidence"].get<std::string>().find(k.evidence), std::string::npos) << faster["evidence"];
  }
}

TEST(ReportComparison, RunsThatSharedTheMachineAreMarkedAndTensorSizesShown) {
  TempDir tmp("report");
  FakeRun full = full_run(), lora = lora_run();
  full.concurrent_runs = lora.concurrent_runs = 2;
  lora.tensor_bytes = {4e8, 3.5e6, 7e6};
  full.tensor_bytes = {4e8, 4e8, 8e8};
  const json c = build_comparison(write_runs(tmp, {full, lora}));
  EXPECT_EQ(arm_of(c, "lora")["concurrent_runs"], 2);
  EXPECT_EQ(c["runs"][0]["concurrent_runs"], 2);
  const json faster = verdict_of(c, "faster");
  EXPECT_EQ(faster["status"], "holds for this one training run");
  EXPECT_NE(faster["evidence"].get<std::string>().find("up to 2 runs sharing the machine"), std::string::npos) << faster["evidence"];
  const json memory = verdict_of(c, "memory reduced");
  EXPECT_NE(memory["evidence"].get<std::string>().find("lora weights 400.0 MB, gradients 3.5 MB, AdamW state 7.0 MB vs full "
                                                       "weights 400.0 MB, gradients 400.0 MB, AdamW state 800.0 MB"),
            std::string::npos)
      << memory["evidence"];
  const std::string md = render_markdown(c);
  for (const char* expected : {"| lora † |", "† Trained while other runs shared the machine",
                               "| lora | 400.0 MB | 3.5 MB | 7.0 MB | 410.5 MB | 1.2 GB |",
                               "| full | 400.0 MB | 400.0 MB | 800.0 MB | 1.6 GB | 2.0 GB |"})
    EXPECT_NE(md.find(expected), std::string::npos) << expected << "\n" << md;

  // Timed alone against timed beside another run: not comparable.
  TempDir tmp2("report");
  lora.concurrent_runs = 1;
  const json c2 = build_comparison(write_runs(tmp2, {full, lora}));
  EXPECT_TRUE(verdict_of(c2, "faster")["holds"].is_null());
  EXPECT_NE(verdict_of(c2, "faster")["evidence"].get<std::string>().find("different numbers of runs sharing the machine"),
            std::string::npos);
  EXPECT_TRUE(arm_of(c2, "lora")["reduction_percent"]["train_runtime_s"].is_null());
}

TEST(ReportComparison, IncomparableOrMissingInputsAreUndecided) {
  TempDir tmp("report");
  FakeRun full = full_run(), lora = lora_run();
  lora.device = "cuda";
  lora.cuda_peak_bytes = 1e9;
  lora.predictions = false;
  const json c = build_comparison(write_runs(tmp, {full, lora}));
  EXPECT_EQ(arm_of(c, "lora")["memory_source"], "cuda_peak_allocated_bytes");
  EXPECT_DOUBLE_EQ(arm_of(c, "lora")["metrics"]["peak_memory_bytes"]["mean"], 1e9);
  EXPECT_TRUE(arm_of(c, "lora")["reduction_percent"]["train_runtime_s"].is_null());
  EXPECT_TRUE(arm_of(c, "lora")["reduction_percent"]["peak_memory_bytes"].is_null());
  EXPECT_TRUE(verdict_of(c, "faster")["holds"].is_null());
  EXPECT_TRUE(verdict_of(c, "memory reduced")["holds"].is_null());
  EXPECT_NE(verdict_of(c, "faster")["evidence"].get<std::string>().find("different devices"), std::string::npos);
  const json acc = verdict_of(c, "accuracy equal within noise");
  EXPECT_TRUE(acc["holds"].is_null());
  EXPECT_NE(acc["evidence"].get<std::string>().find("predictions.tsv not found"), std::string::npos) << acc["evidence"];
  EXPECT_TRUE(c["pairs"][0].contains("missing"));

  // Seeds that do not match leave nothing to pair.
  TempDir tmp2("report");
  FakeRun other = lora_run();
  other.seed = 7;
  const json c2 = build_comparison(write_runs(tmp2, {full_run(), other}));
  EXPECT_TRUE(c2["pairs"].empty());
  EXPECT_TRUE(verdict_of(c2, "accuracy equal within noise")["holds"].is_null());
}

TEST(ReportComparison, BaselineChoice) {
  TempDir tmp("report");
  FakeRun full2 = full_run();
  full2.arm = "full_lr5e-5";
  const std::vector<RunInfo> runs = write_runs(tmp, {lora_run(), full2, full_run()});
  EXPECT_EQ(build_comparison(runs)["baseline"], "full_lr5e-5") << "first full arm in run order";
  ComparisonOptions o;
  o.baseline_arm = "lora";
  const json c = build_comparison(runs, o);
  EXPECT_EQ(c["baseline"], "lora");
  EXPECT_EQ(c["verdicts"].size(), 14u) << "six claims and seed stability (undecided with one seed) for each of two arms";
  // Baseline full_lr5e-5: the lora arm gets the seven claims, the other full arm only the two on accuracy.
  o.baseline_arm = "full_lr5e-5";
  const json same = build_comparison(runs, o);
  ASSERT_EQ(same["verdicts"].size(), 9u);
  int full_vs_full = 0;
  for (const json& v : same["verdicts"])
    if (v["arm"] == "full") {
      ++full_vs_full;
      EXPECT_EQ(v["claim"].get<std::string>().rfind("accuracy ", 0), 0u) << v["claim"];
    }
  EXPECT_EQ(full_vs_full, 2);
  o.baseline_arm = "nope";
  EXPECT_NE(error_of([&] { build_comparison(runs, o); }).find("'nope'"), std::string::npos);
  const std::vector<RunInfo> lora_only(runs.begin(), runs.begin() + 1);
  EXPECT_NE(error_of([&] { build_comparison(lora_only); }).find("--baseline"), std::string::npos);
}

TEST(ReportComparison, RandomInitArmIsNamedSo) {
  TempDir tmp("report");
  FakeRun scratch = full_run();
  scratch.arm = "random-init";
  scratch.random_init = true;
  const std::vector<RunInfo> runs = write_runs(tmp, {full_run(), scratch});
  const json c = build_comparison(runs);
  EXPECT_EQ(c["arms"][0]["model"], "klue/roberta-base");
  EXPECT_EQ(c["arms"][1]["model"], "klue/roberta-base (random init)");
  EXPECT_NE(render_markdown(c).find("klue/roberta-base (random init)"), std::string::npos);

  const std::string results = ft::join_path(runs[1].dir, "results.json");
  json j = ft::read_json(results);
  j["random_init"] = "yes";
  ft::write_json_atomic(results, j);
  const std::string err = error_of([&] { build_comparison(runs); });
  EXPECT_NE(err.find(results + ": /random_init must be true or false"), std::string::npos) << err;
}

TEST(ReportComparison, MissingOrMalformedResultsNameTheFile) {
  TempDir tmp("report");
  std::vector<RunInfo> runs = write_runs(tmp, {full_run(), lora_run()});
  const std::string lora_results = ft::join_path(runs[1].dir, "results.json");

  std::filesystem::remove(lora_results);
  EXPECT_NE(error_of([&] { build_comparison(runs); }).find(lora_results), std::string::npos);

  ft::write_file_atomic(lora_results, "{\"arm\": \"lora\",\n \"seed\": ");
  const std::string malformed = error_of([&] { build_comparison(runs); });
  EXPECT_NE(malformed.find(lora_results), std::string::npos) << malformed;
  EXPECT_NE(error_of([&] { discover_runs(tmp.path); }).find(lora_results), std::string::npos);

  json j = ft::read_json(ft::join_path(runs[0].dir, "results.json"));
  j["eval"]["final"].erase("accuracy");
  ft::write_json_atomic(lora_results, j);
  const std::string missing = error_of([&] { build_comparison(runs); });
  EXPECT_NE(missing.find(lora_results), std::string::npos) << missing;
  EXPECT_NE(missing.find("/eval/final/accuracy"), std::string::npos) << missing;

  // Predictions of different examples cannot be paired.
  runs = write_runs(tmp, {full_run(), lora_run()});
  ft::write_file_atomic(ft::join_path(runs[1].dir, "predictions.tsv"), "id\tlabel\tprediction\n0\t0\t0\n");
  EXPECT_NE(error_of([&] { build_comparison(runs); }).find("different numbers of examples"), std::string::npos);
  ft::write_file_atomic(ft::join_path(runs[1].dir, "predictions.tsv"), "id\tlabel\tprediction\n0\tzero\t0\n");
  EXPECT_NE(error_of([&] { build_comparison(runs); }).find("predictions.tsv:2"), std::string::npos);
}

TEST(ReportComparison, DiscoverRunsFindsNestedResultsInPathOrder) {
  TempDir tmp("report");
  FakeRun a = lora_run(), b = full_run(), c = full_run();
  c.seed = 7;
  write_run(tmp / "sweep/z_lora", a);
  write_run(tmp / "full/seed42", b);
  write_run(tmp / "full/seed7", c);
  const std::vector<RunInfo> runs = discover_runs(tmp.path);
  ASSERT_EQ(runs.size(), 3u);
  EXPECT_EQ(runs[0].dir, tmp / "full/seed42");
  EXPECT_EQ(runs[0].arm, "full");
  EXPECT_EQ(runs[1].seed, 7);
  EXPECT_EQ(runs[2].arm, "lora");
  TempDir empty("report");
  EXPECT_NE(error_of([&] { discover_runs(empty.path); }).find("no results.json"), std::string::npos);

  // Two runs claiming the same arm and seed are ambiguous for pairing.
  write_run(tmp / "again", b);
  EXPECT_NE(error_of([&] { build_comparison(discover_runs(tmp.path)); }).find("two runs of arm 'full' with seed 42"),
            std::string::npos);
}

TEST(ReportComparison, EquivalenceNeedsTheIntervalInsideTheMargin) {
  TempDir tmp("report");
  // b = c = 10 of 1000: diff 0, 90% interval about ±1.645·sqrt(20/1000)/sqrt(1000) = ±0.74 pp.
  const json c = build_comparison(write_runs(tmp, {full_run(), lora_run()}));
  const json& e = c["pairs"][0]["equivalence"];
  EXPECT_DOUBLE_EQ(e["confidence"], 0.9);
  EXPECT_NEAR(e["lo"].get<double>(), -0.0074, 0.0015);
  EXPECT_NEAR(e["hi"].get<double>(), 0.0074, 0.0015);
  EXPECT_EQ(e["inside"], true);
  const json v = verdict_of(c, "accuracy equivalent within ±1.0 pp");
  EXPECT_EQ(v["holds"], true);
  EXPECT_NE(v["evidence"].get<std::string>().find("90% CI"), std::string::npos) << v["evidence"];
  EXPECT_DOUBLE_EQ(c["options"]["equivalence_margin"], 0.01);

  // b = 8, c = 14: McNemar p = 0.29 and the 95% CI holds 0, so "equal within noise" passes, but the
  // 90% interval -0.6 ± 0.77 pp reaches past -1 pp: not shown equivalent.
  TempDir tmp2("report");
  FakeRun lora = lora_run();
  lora.wrong = {8, 114};
  const auto runs = write_runs(tmp2, {full_run(), lora});
  const json c2 = build_comparison(runs);
  EXPECT_EQ(verdict_of(c2, "accuracy equal within noise")["holds"], true);
  const json v2 = verdict_of(c2, "accuracy equivalent within ±1.0 pp");
  EXPECT_EQ(v2["holds"], false);
  EXPECT_NE(v2["evidence"].get<std::string>().find("not inside ±1.0 pp"), std::string::npos) << v2["evidence"];
  // A wider margin takes it in.
  ComparisonOptions o;
  o.equivalence_margin = 0.02;
  EXPECT_EQ(verdict_of(build_comparison(runs, o), "accuracy equivalent within ±2.0 pp")["holds"], true);
  // The clearly different arms are not equivalent either.
  TempDir tmp3("report");
  FakeRun full = full_run();
  lora.wrong = {0, 150};
  full.wrong = {0, 50};
  EXPECT_EQ(verdict_of(build_comparison(write_runs(tmp3, {full, lora})), "accuracy equivalent within ±1.0 pp")["holds"],
            false);
}

TEST(ReportComparison, EquivalenceOverSeveralSeedsUsesTheMeanOverSeeds) {
  TempDir tmp("report");
  std::vector<FakeRun> runs;
  for (int s = 0; s < 2; ++s) {
    FakeRun f = full_run(), l = lora_run();
    f.seed = l.seed = s;
    runs.push_back(f);
    runs.push_back(l);
  }
  const json v = verdict_of(build_comparison(write_runs(tmp, runs)), "accuracy equivalent within ±1.0 pp");
  EXPECT_EQ(v["holds"], true);
  EXPECT_NE(v["evidence"].get<std::string>().find("mean diff +0.00 pp, 90% CI"), std::string::npos) << v["evidence"];
  EXPECT_NE(v["evidence"].get<std::string>().find("over 2 seeds (two-level bootstrap"), std::string::npos) << v["evidence"];
  // Seeds scored on different examples (seeded eval subsets): examples are drawn within each seed.
  TempDir tmp2("report");
  runs[2].id_offset = runs[3].id_offset = 5000;
  const json c2 = build_comparison(write_runs(tmp2, runs));
  const json v2 = verdict_of(c2, "accuracy equivalent within ±1.0 pp");
  EXPECT_EQ(v2["holds"], true) << v2["evidence"];
  EXPECT_EQ(v2["status"], "holds");
  EXPECT_EQ(c2["accuracy_over_seeds"][0]["ci"]["seeds"], 2);
}

TEST(ReportComparison, RobustnessDropsPairedTestsAndVerdicts) {
  TempDir tmp("report");
  const FakeRun full = full_run(), lora = lora_run();  // clean: full wrong on 0..99, lora on 10..109
  const auto runs = write_runs(tmp, {full, lora});
  // no_spaces: full drops 10 pp (100..199), lora 2 pp (110..129); jamo: the reverse; spacing: both
  // 0.5 pp, on different examples; interjection: neither changes.
  write_robustness(runs[0].dir, full.wrong,
                   {{"no_spaces:1", {0, 200}}, {"jamo:0.1", {0, 120}}, {"spacing:0.2", {0, 105}}, {"interjection:1", {0, 100}}});
  write_robustness(runs[1].dir, lora.wrong,
                   {{"no_spaces:1", {10, 130}}, {"jamo:0.1", {10, 210}}, {"spacing:0.2", {10, 115}},
                    {"interjection:1", {10, 110}}});
  const json c = build_comparison(runs);
  ASSERT_TRUE(c.contains("robustness"));
  const json& r = c["robustness"];
  ASSERT_EQ(r["perturbations"].size(), 4u);
  EXPECT_EQ(r["perturbations"][0]["perturbation"], "no_spaces:1");
  ASSERT_EQ(r["runs"].size(), 2u);
  EXPECT_DOUBLE_EQ(r["runs"][0]["clean_accuracy"], 0.9);
  EXPECT_NEAR(r["runs"][0]["results"][0]["drop"].get<double>(), 0.10, 1e-12);
  ASSERT_EQ(r["pairs"].size(), 4u);
  const json& p = r["pairs"][0];
  EXPECT_NEAR(p["drop_arm"].get<double>(), 0.02, 1e-12);
  EXPECT_NEAR(p["drop_baseline"].get<double>(), 0.10, 1e-12);
  EXPECT_DOUBLE_EQ(p["bootstrap"]["diff"], -0.08);  // (20 − 100) / 1000, per example
  EXPECT_LT(p["bootstrap"]["hi"].get<double>(), 0.0);
  // On the perturbed set lora is right and full wrong on 0..9 and 130..199; never the reverse.
  EXPECT_EQ(p["mcnemar"][0]["b"], 80);
  EXPECT_EQ(p["mcnemar"][0]["c"], 0);

  const json less = verdict_of(c, "degrades less under no_spaces:1");
  EXPECT_EQ(less["holds"], true);
  EXPECT_NE(less["evidence"].get<std::string>().find("difference -8.00 pp"), std::string::npos) << less["evidence"];
  EXPECT_NE(less["evidence"].get<std::string>().find("b=80 c=0"), std::string::npos) << less["evidence"];
  EXPECT_EQ(verdict_of(c, "degrades less under jamo:0.1")["holds"], false);
  const json same = verdict_of(c, "degrades less under spacing:0.2");
  EXPECT_TRUE(same["holds"].is_null());
  EXPECT_DOUBLE_EQ(r["pairs"][2]["bootstrap"]["diff"], 0.0);
  // No change at all: an interval of [0, 0] is not below 0 either.
  EXPECT_EQ(r["pairs"][3]["bootstrap"]["hi"], 0.0);
  EXPECT_TRUE(verdict_of(c, "degrades less under interjection:1")["holds"].is_null());

  const std::string md = render_markdown(c);
  for (const char* expected : {"## Robustness", "| no_spaces:1 |", "80.00% (-10.00 pp)", "90.00% (+0.00 pp)",
                               "- lora vs full, degrades less under no_spaces:1: **holds for this one training run**",
                               "- lora vs full, degrades less under jamo:0.1: **does not hold for this one training run**",
                               "- lora vs full, degrades less under spacing:0.2: **undecided**"})
    EXPECT_NE(md.find(expected), std::string::npos) << "missing: " << expected << "\n" << md;
}

TEST(ReportComparison, OneTrainingRunPerArmHoldsOnlyForThatRun) {
  TempDir tmp("report");
  const json c = build_comparison(write_runs(tmp, {full_run(), lora_run()}));
  for (const char* claim : {"accuracy equal within noise", "accuracy equivalent within ±1.0 pp", "smaller generalization gap"}) {
    const json v = verdict_of(c, claim);
    EXPECT_EQ(v["holds"], true) << claim;
    EXPECT_EQ(v["status"], "holds for this one training run") << claim;
    EXPECT_EQ(v["covers"], "test examples of one training run per arm") << claim;
  }
  // A count is no sample: it holds plainly.
  EXPECT_EQ(verdict_of(c, "trainable parameters reduced ≥ 99%")["status"], "holds");
  EXPECT_FALSE(verdict_of(c, "trainable parameters reduced ≥ 99%").contains("covers"));
  EXPECT_NE(verdict_lines(c).find("lora vs full: accuracy equal within noise: holds for this one training run — "),
            std::string::npos) << verdict_lines(c);
  // One seed's interval over seeds is that seed's own.
  EXPECT_EQ(c["accuracy_over_seeds"][0]["ci"]["lo"], c["pairs"][0]["bootstrap"]["lo"]);
  EXPECT_EQ(c["accuracy_over_seeds"][0]["equivalence"]["hi"], c["pairs"][0]["equivalence"]["hi"]);
  EXPECT_EQ(c["accuracy_over_seeds"][0]["ci"]["method"], "example bootstrap, percentile interval");
}

TEST(ReportComparison, SeedsThatDisagreeLeaveTheDropUndecided) {
  // Per seed, drop(lora) − drop(full): −5, −5 and +4 pp on the same 1000 examples. Each seed's test
  // set alone is decisive (McNemar), and so is the per-example mean over seeds (−2 pp, se about 0.3 pp),
  // but three runs that disagree this much do not show which method degrades less.
  TempDir tmp("report");
  std::vector<FakeRun> runs;
  for (int s = 0; s < 3; ++s) {
    FakeRun f = full_run(), l = lora_run();
    f.seed = l.seed = s;
    runs.push_back(f);
    runs.push_back(l);
  }
  const auto infos = write_runs(tmp, runs);
  const int64_t full_drop[] = {100, 100, 10}, lora_drop[] = {50, 50, 50};
  for (int s = 0; s < 3; ++s) {
    write_robustness(infos[2 * s].dir, full_run().wrong, {{"jamo:0.1", {0, 100 + full_drop[s]}}});
    write_robustness(infos[2 * s + 1].dir, lora_run().wrong, {{"jamo:0.1", {10, 110 + lora_drop[s]}}});
  }
  const json c = build_comparison(infos);
  const json& p = c["robustness"]["pairs"][0];
  EXPECT_NEAR(p["bootstrap"]["diff"].get<double>(), -0.02, 1e-12);
  EXPECT_EQ(p["bootstrap"]["seeds"], 3);
  // The seeds' part: sd of (−5, −5, +4) pp (√27 pp) over √3 = 3 pp, at 2 degrees of freedom or a little more.
  EXPECT_NEAR(p["bootstrap"]["se_seed"].get<double>(), 0.03, 1e-9);
  EXPECT_GE(p["bootstrap"]["df"].get<double>(), 2.0);
  EXPECT_LT(p["bootstrap"]["lo"].get<double>(), -0.02 - 2 * 0.03);
  EXPECT_GT(p["bootstrap"]["hi"].get<double>(), 0.0);
  const json v = verdict_of(c, "degrades less under jamo:0.1");
  EXPECT_TRUE(v["holds"].is_null()) << v["evidence"];
  EXPECT_EQ(v["status"], "undecided");
  EXPECT_EQ(v["covers"], "training runs (seeds) and test examples");
  EXPECT_NE(v["evidence"].get<std::string>().find("over 3 seeds (two-level bootstrap"), std::string::npos) << v["evidence"];
}

TEST(ReportComparison, RobustnessOfOneArmOnlyOrMalformedIsSaidSo) {
  TempDir tmp("report");
  const auto runs = write_runs(tmp, {full_run(), lora_run()});
  write_robustness(runs[1].dir, lora_run().wrong, {{"jamo:0.1", {10, 210}}});
  const json c = build_comparison(runs);
  const json v = verdict_of(c, "degrades less under jamo:0.1");
  EXPECT_TRUE(v["holds"].is_null());
  EXPECT_NE(v["evidence"].get<std::string>().find("no seed with a robustness run of both arms"), std::string::npos);
  EXPECT_TRUE(c["robustness"]["pairs"].empty());
  // Another perturbation seed is another perturbation: nothing to pair.
  write_robustness(runs[0].dir, full_run().wrong, {{"jamo:0.1", {0, 120}}}, 7);
  EXPECT_TRUE(verdict_of(build_comparison(runs), "degrades less under jamo:0.1")["holds"].is_null());
  const std::string file = runs[0].dir + "/robustness/robustness.json";
  ft::write_file_atomic(file, std::string("{\"seed\": 42, \"results\": [{\"perturbation\": \"clean\"}]}"));
  const std::string err = error_of([&] { build_comparison(runs); });
  EXPECT_NE(err.find(file), std::string::npos) << err;
}

TEST(ReportMarkdown, TablesAndOneVerdictLinePerClaim) {
  TempDir tmp("report");
  FakeRun full = full_run();
  full.runtime_s = 137;
  const std::string md = render_markdown(build_comparison(write_runs(tmp, {full, lora_run()})));
  for (const char* expected :
       {"## Parameters", "## Resources", "## Metrics", "## Statistics", "## Verdicts", "887,042", "110,619,650",
        "0.80%", "3.4 MB", "420.0 MB", "2.0 GB", "2m 17s", "1m 13s", "90.00%", "0.1618", "0.0154",
        "- lora vs full, trainable parameters reduced ≥ 99%: **holds**",
        "- lora vs full, accuracy equal within noise: **holds for this one training run**",
        "- lora vs full, accuracy equivalent within ±1.0 pp: **holds for this one training run**", "90% CI (TOST)",
        "- lora vs full, memory reduced: **holds for this one training run**",
        "- lora vs full, faster: **holds for this one training run**",
        "- lora vs full, smaller generalization gap: **holds for this one training run**",
        "they hold at most **for this one training run**"})
    EXPECT_NE(md.find(expected), std::string::npos) << "missing: " << expected << "\n" << md;
}

TEST(ReportDashboard, ChartsArePng1600x1000) {
  if (!have_gnuplot()) GTEST_SKIP() << "gnuplot not on PATH";
  TempDir tmp("report");
  std::vector<FakeRun> runs = {full_run(), lora_run()};
  FakeRun third = lora_run();
  third.arm = "lora_r16";
  third.trainable = 1181954;
  runs.push_back(third);
  const std::vector<RunInfo> infos = write_runs(tmp, runs);
  // A relative output directory, as `compare --output-dir runs/demo` gives; gnuplot runs elsewhere.
  const std::string cwd = std::filesystem::current_path().string();
  ASSERT_EQ(::chdir(tmp.path.c_str()), 0);
  std::string err;
  try {
    write_comparison_outputs("out", infos);
  } catch (const ft::Error& e) {
    err = e.what();
  }
  ASSERT_EQ(::chdir(cwd.c_str()), 0);
  ASSERT_EQ(err, "");
  const std::string out = tmp / "out";
  for (const char* name : {"dashboard.png", "tradeoff.png"}) {
    const PngSize size = png_size(ft::join_path(out, name));
    EXPECT_EQ(size.width, static_cast<uint32_t>(kChartWidthPx)) << name;
    EXPECT_EQ(size.height, static_cast<uint32_t>(kChartHeightPx)) << name;
  }
  std::set<std::string> files;
  for (const std::string& path : ft::list_dir(out)) files.insert(std::filesystem::path(path).filename().string());
  EXPECT_EQ(files, (std::set<std::string>{"comparison.json", "report.md", "dashboard.png", "tradeoff.png"}))
      << "no temporary files left behind";
  EXPECT_EQ(ft::read_json(ft::join_path(out, "comparison.json"))["baseline"], "full");
}

TEST(ReportComparison, EachArmsAccuracyAndF1HaveIntervalsOverSeeds) {
  // Three seeds wrong on the first 100, 120 and 80 of the same 1000 alternating labels: accuracy and
  // F1 (class 1: tp 450, 440, 460 of 500, fp = fn = half the mistakes) are 0.90, 0.88, 0.92.
  TempDir tmp("report");
  std::vector<FakeRun> runs;
  const int64_t wrong[] = {100, 120, 80};
  for (int s = 0; s < 3; ++s) {
    FakeRun f = full_run(), l = lora_run();
    f.seed = l.seed = s;
    f.wrong = {0, wrong[s]};
    runs.push_back(f);
    runs.push_back(l);
  }
  const json c = build_comparison(write_runs(tmp, runs));
  const json& iv = arm_of(c, "full")["intervals"];
  for (const char* k : {"accuracy", "f1"}) {
    EXPECT_NEAR(iv[k]["diff"].get<double>(), 0.90, 1e-12) << k;
    EXPECT_EQ(iv[k]["seeds"], 3) << k;
    EXPECT_NEAR(iv[k]["se_seed"].get<double>(), 0.02 / std::sqrt(3.0), 1e-12) << k;  // sd 0.02 over √3
    EXPECT_LT(iv[k]["lo"].get<double>(), 0.88) << k;
    EXPECT_GT(iv[k]["hi"].get<double>(), 0.92) << k;
  }
  int listed = 0;
  for (const json& r : c["runs"])
    if (r["arm"] == "full") {
      EXPECT_NEAR(r["accuracy"].get<double>(), 1 - wrong[listed++] / 1000.0, 1e-12);
    }
  EXPECT_EQ(listed, 3);
  // No predictions, no interval (the dashboard falls back to ± std).
  TempDir tmp2("report");
  FakeRun bare = lora_run();
  bare.predictions = false;
  EXPECT_FALSE(arm_of(build_comparison(write_runs(tmp2, {full_run(), bare})), "lora").contains("intervals"));
}

TEST(ReportDashboard, SeveralSeedsDrawBandsIntervalsAndSeedPoints) {
  if (!have_gnuplot()) GTEST_SKIP() << "gnuplot not on PATH";
  TempDir tmp("report");
  std::vector<FakeRun> runs;
  for (int s = 0; s < 3; ++s) {
    FakeRun f = full_run(), l = lora_run();
    f.seed = l.seed = s;
    f.train_loss += 0.01 * s;  // curves that differ from seed to seed: a band
    f.wrong = {0, 90 + 10 * s};
    runs.push_back(f);
    runs.push_back(l);
  }
  const std::string out = tmp / "out";
  write_comparison_outputs(out, write_runs(tmp, runs));
  for (const char* name : {"dashboard.png", "tradeoff.png"}) {
    const PngSize size = png_size(ft::join_path(out, name));
    EXPECT_EQ(size.width, static_cast<uint32_t>(kChartWidthPx)) << name;
    EXPECT_EQ(size.height, static_cast<uint32_t>(kChartHeightPx)) << name;
  }
}

TEST(ReportDashboard, MissingGnuplotIsAClearErrorAfterTheTextOutputs) {
  TempDir tmp("report");
  const std::vector<RunInfo> runs = write_runs(tmp, {full_run(), lora_run()});
  ::setenv("FT_GNUPLOT", "/nonexistent/gnuplot", 1);
  const std::string err = error_of([&] { write_comparison_outputs(tmp / "out", runs); });
  ::unsetenv("FT_GNUPLOT");
  EXPECT_NE(err.find("gnuplot not found"), std::string::npos) << err;
  EXPECT_TRUE(ft::file_exists(tmp / "out/comparison.json"));
  EXPECT_TRUE(ft::file_exists(tmp / "out/report.md"));
  EXPECT_FALSE(ft::file_exists(tmp / "out/dashboard.png"));
}

// Runs the real binary; returns the exit status and fills `output` with stdout and stderr.
int run_binary(const std::string& args, std::string& output) {
  FILE* pipe = ::popen((std::string(FT_BINARY) + " " + args + " 2>&1").c_str(), "r");
  if (!pipe) return -1;
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, pipe)) > 0) output.append(buf, n);
  const int status = ::pclose(pipe);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

TEST(ReportCli, RegeneratesOutputsAndPrintsVerdicts) {
  if (!have_gnuplot()) GTEST_SKIP() << "gnuplot not on PATH";
  TempDir tmp("report");
  write_runs(tmp, {full_run(), lora_run()});
  std::string out;
  ASSERT_EQ(run_binary("report --run-dir " + tmp.path, out), 0) << out;
  EXPECT_NE(out.find("lora vs full: faster: holds"), std::string::npos) << out;
  for (const char* name : {"comparison.json", "report.md", "dashboard.png", "tradeoff.png"})
    EXPECT_TRUE(ft::file_exists(tmp / name)) << name;
  // Running again over its own outputs changes nothing about which runs it sees.
  out.clear();
  ASSERT_EQ(run_binary("report --run-dir " + tmp.path + " --baseline lora", out), 0) << out;
  EXPECT_EQ(ft::read_json(tmp / "comparison.json")["baseline"], "lora");

  // A folder written by `finetune compare` keeps its config's baseline unless --baseline says otherwise.
  ft::write_json_atomic(tmp / "compare_config.json", {{"baseline", "lora"}, {"arms", json::array()}});
  out.clear();
  ASSERT_EQ(run_binary("report --run-dir " + tmp.path, out), 0) << out;
  EXPECT_EQ(ft::read_json(tmp / "comparison.json")["baseline"], "lora");
  out.clear();
  ASSERT_EQ(run_binary("report --run-dir " + tmp.path + " --baseline full", out), 0) << out;
  EXPECT_EQ(ft::read_json(tmp / "comparison.json")["baseline"], "full");

  out.clear();
  EXPECT_NE(run_binary("report --run-dir " + tmp.path + " --baseline nope", out), 0);
  EXPECT_NE(out.find("error: baseline arm 'nope'"), std::string::npos) << out;
  TempDir empty("report");
  out.clear();
  EXPECT_NE(run_binary("report --run-dir " + empty.path, out), 0);
  EXPECT_NE(out.find("no results.json"), std::string::npos) << out;
}

TEST(ReportComparison, LearningRateSweepChoosesOnValidationAndRefusesTheTestSet) {
  TempDir tmp("report_sweep");
  std::vector<RunInfo> runs;
  auto add = [&](FakeRun r, const std::string& name) {
    write_run(tmp / name, r);
    runs.push_back({r.arm, r.seed, tmp / name});
  };
  const double rates[] = {1e-5, 2e-5, 5e-5}, val_losses[] = {0.30, 0.25, 0.28};
  const int64_t wrong[] = {150, 120, 130};
  for (int i = 0; i < 3; ++i) {
    FakeRun f = full_run();
    f.learning_rate = rates[i];
    f.validation_loss = val_losses[i];
    f.wrong = {0, wrong[i]};
    add(f, "full_lr" + std::to_string(i));
  }
  FakeRun l = lora_run();
  l.learning_rate = 2e-4;
  l.validation_loss = 0.26;
  add(l, "lora");
  const json c = build_comparison(runs);
  ASSERT_TRUE(c.contains("sweeps")) << c.dump(2);
  ASSERT_EQ(c["sweeps"].size(), 1u);
  const json& sweep = c["sweeps"][0];
  EXPECT_EQ(sweep["arm"], "full");
  EXPECT_DOUBLE_EQ(sweep["chosen"].get<double>(), 2e-5);  // the lowest validation loss, not the best test accuracy (1e-5 is lower)
  EXPECT_EQ(sweep["values"].size(), 3u);
  EXPECT_TRUE(sweep["values"][1]["chosen"].get<bool>());
  EXPECT_DOUBLE_EQ(sweep["values"][0]["score"].get<double>(), 0.30);
  // Only the chosen run is compared.
  EXPECT_EQ(c["runs"].size(), 2u);
  EXPECT_DOUBLE_EQ(arm_of(c, "full")["metrics"]["accuracy"]["mean"].get<double>(), 1 - 120.0 / kExamples);
  EXPECT_NE(render_markdown(c).find("Learning-rate sweeps"), std::string::npos);

  // The same sweep chosen on the test set is refused.
  TempDir tmp2("report_sweep_test");
  std::vector<RunInfo> biased;
  for (int i = 0; i < 2; ++i) {
    FakeRun f = full_run();
    f.learning_rate = rates[i];
    write_run(tmp2 / ("full" + std::to_string(i)), f);
    biased.push_back({f.arm, f.seed, tmp2 / ("full" + std::to_string(i))});
  }
  const std::string e = error_of([&] { build_comparison(biased); });
  EXPECT_NE(e.find("several learning rates"), std::string::npos) << e;
  EXPECT_NE(e.find("no validation set"), std::string::npos) << e;
}

TEST(ReportComparison, CalibrationAndSeedStabilityVerdicts) {
  TempDir tmp("report_calibration");
  std::vector<FakeRun> runs;
  // The full arm says 0.99, 0.95, 0.85 for everything, 4, 5 and 5 points above its accuracy; LoRA is exactly
  // as confident as it is right: LoRA is calibrated, by 4–5 points of ECE in every run.
  // Accuracy across seeds: full 0.95, 0.90, 0.80; LoRA 0.900, 0.901, 0.903 (the three smallest deviations).
  const int64_t full_wrong[] = {50, 100, 200}, lora_wrong[] = {100, 99, 97};
  const double full_confidence[] = {0.99, 0.95, 0.85};
  for (int s = 0; s < 3; ++s) {
    FakeRun f = full_run(), l = lora_run();
    f.seed = l.seed = s;
    f.wrong = {0, full_wrong[s]};
    l.wrong = {0, lora_wrong[s]};
    f.confidence = full_confidence[s];
    l.confidence = 1 - static_cast<double>(lora_wrong[s]) / kExamples;
    runs.push_back(f);
    runs.push_back(l);
  }
  const json c = build_comparison(write_runs(tmp, runs));
  const json cal = verdict_of(c, "better calibrated (ECE)");
  EXPECT_EQ(cal["holds"], true) << cal["evidence"];
  EXPECT_EQ(cal["status"], "holds");
  // Mean ECE difference over the seeds (−0.04, −0.05, −0.05), with the seeds' t interval.
  const json& over = c["calibration"]["over_seeds"][0]["ece_diff"];
  EXPECT_NEAR(over["diff"].get<double>(), -0.14 / 3, 1e-9);
  EXPECT_NEAR(over["se_seed"].get<double>(), std::sqrt(0.0001 / 3) / std::sqrt(3.0), 1e-9);
  EXPECT_LT(over["hi"].get<double>(), 0.0);
  ASSERT_TRUE(c.contains("calibration"));
  EXPECT_EQ(c["calibration"]["pairs"].size(), 3u);
  EXPECT_EQ(c["calibration"]["runs"].size(), 6u);
  // Seed 0: full is 95% right at 0.99 (ECE 0.04); LoRA 90% right at 0.9 (ECE 0).
  for (const json& r : c["calibration"]["runs"])
    if (r["seed"] == 0) {
      EXPECT_NEAR(r["ece"]["value"].get<double>(), r["arm"] == "full" ? 0.04 : 0.0, 1e-9) << r.dump();
    }
  const json stable = verdict_of(c, "more stable across seeds (accuracy)");
  EXPECT_EQ(stable["holds"], true) << stable["evidence"];
  ASSERT_EQ(c["stability"].size(), 2u);
  EXPECT_DOUBLE_EQ(c["stability"][0]["p_less"].get<double>(), 1.0 / 20);
  const std::string md = render_markdown(c);
  for (const char* section : {"## Calibration", "## Seed stability", "## Data provenance"})
    EXPECT_NE(md.find(section), std::string::npos) << section;
  EXPECT_NE(md.find("the test set chose"), std::string::npos) << "runs without a validation set are flagged";

  // Below three seeds: undecided, saying why; predictions without label probabilities: no calibration.
  TempDir tmp2("report_calibration2");
  const json c2 = build_comparison(write_runs(tmp2, {full_run(), lora_run()}));
  EXPECT_TRUE(verdict_of(c2, "more stable across seeds (accuracy)")["holds"].is_null());
  EXPECT_FALSE(c2.contains("calibration"));
}

}  // namespace
