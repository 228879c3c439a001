// `finetune compare` end to end on a tiny model and a small NSMC subset: every output file, the
// consistency of its numbers, and a clean stop and resume after Ctrl-C.
#include <gtest/gtest.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <thread>

#include "core/files.h"
#include "test_util.h"

extern char** environ;

namespace {

using ft::testing::TempDir;
using ft::testing::data_path;
using ft::testing::nsmc_path;

std::string compare_args(const std::string& model, const std::string& out, int train_samples, int epochs) {
  return " compare --model " + model + " --random-init --train-file " + nsmc_path("ratings_train.txt") +
         " --eval-file " + nsmc_path("ratings_test.txt") + " --max-train-samples " + std::to_string(train_samples) +
         " --max-eval-samples 300 --num-train-epochs " + std::to_string(epochs) + " --threads 1 --output-dir " + out;
}

uint32_t be32(const std::string& s, size_t at) {
  return (uint32_t(uint8_t(s[at])) << 24) | (uint32_t(uint8_t(s[at + 1])) << 16) | (uint32_t(uint8_t(s[at + 2])) << 8) |
         uint32_t(uint8_t(s[at + 3]));
}

TEST(Compare, StudyArmsEndToEndWithConsistentFigures) {
  TempDir dir("compare");
  const std::string model = ft::testing::tiny_klue_model(dir), out = dir / "study";
  const std::string cmd = std::string(FT_BINARY) + compare_args(model, out, 320, 2) + " > " + (dir / "stdout.txt") + " 2>&1";
  ASSERT_EQ(std::system(cmd.c_str()), 0) << ft::read_file(dir / "stdout.txt");
  // The verdict lines reach stdout.
  EXPECT_NE(ft::read_file(dir / "stdout.txt").find("lora vs full: accuracy equal within noise"), std::string::npos);

  for (const char* f : {"comparison.json", "report.md", "dashboard.png", "tradeoff.png", "full/results.json",
                        "full/model.safetensors", "full/trainer_state.json", "full/predictions.tsv", "lora/results.json",
                        "lora/adapter_model.safetensors", "lora/adapter_config.json", "lora/predictions.tsv"})
    EXPECT_TRUE(ft::file_exists(out + "/" + f)) << f;

  const auto full = ft::read_json(out + "/full/results.json"), lora = ft::read_json(out + "/lora/results.json");
  // LoRA r=8 on query+value of 2 layers of width 32, plus the head (dense 32×32+32, out_proj 2×32+2).
  const int64_t lora_tensors = 2 * 2 * 8 * (32 + 32);
  EXPECT_EQ(lora["parameters"]["trainable"].get<int64_t>(), lora_tensors + (32 * 32 + 32) + (2 * 32 + 2));
  EXPECT_EQ(lora["parameters"]["adapter"].get<int64_t>(), lora_tensors);
  EXPECT_EQ(full["parameters"]["trainable"], full["parameters"]["total"]);
  // fp32 on CPU: 4 bytes a weight; gradients for the trainable ones, AdamW two moments each.
  for (const auto* r : {&full, &lora}) {
    const auto& p = (*r)["parameters"];
    const int64_t all = p["total"].get<int64_t>() + p["adapter"].get<int64_t>(), trainable = p["trainable"];
    EXPECT_EQ((*r)["memory"]["parameter_bytes"], 4 * all);
    EXPECT_EQ((*r)["memory"]["gradient_bytes"], 4 * trainable);
    EXPECT_EQ((*r)["memory"]["optimizer_state_bytes"], 8 * trainable);
    EXPECT_EQ((*r)["environment"]["concurrent_runs"], 1) << "one run at a time";
  }

  // Reductions in comparison.json follow from the per-arm figures.
  const auto c = ft::read_json(out + "/comparison.json");
  const nlohmann::json* lora_arm = nullptr;
  for (const auto& a : c["arms"])
    if (a["arm"] == "lora") lora_arm = &a;
  ASSERT_NE(lora_arm, nullptr) << c.dump(2);
  const double ft_ = full["parameters"]["trainable"], lt = lora["parameters"]["trainable"];
  EXPECT_NEAR((*lora_arm)["reduction_percent"]["trainable_params"].get<double>(), 100.0 * (ft_ - lt) / ft_, 1e-9);
  const double fs = full["train"]["runtime_s"], ls = lora["train"]["runtime_s"];
  EXPECT_NEAR((*lora_arm)["reduction_percent"]["train_runtime_s"].get<double>(), 100.0 * (fs - ls) / fs, 1e-9);
  const double fc = full["checkpoint"]["bytes"], lc = lora["checkpoint"]["bytes"];
  EXPECT_NEAR((*lora_arm)["reduction_percent"]["checkpoint_bytes"].get<double>(), 100.0 * (fc - lc) / fc, 1e-9);
  EXPECT_EQ(c["verdicts"].size(), 8u) << "the six of the study, calibration, and seed stability (undecided with one seed)";

  const std::string png = ft::read_file(out + "/dashboard.png");
  ASSERT_GT(png.size(), 24u);
  EXPECT_EQ(png.substr(1, 3), "PNG");
  EXPECT_EQ(be32(png, 16), 1600u);
  EXPECT_EQ(be32(png, 20), 1000u);

  // A second run keeps the finished arms.
  const auto before = std::filesystem::last_write_time(out + "/full/results.json");
  ASSERT_EQ(std::system(cmd.c_str()), 0);
  EXPECT_EQ(std::filesystem::last_write_time(out + "/full/results.json"), before);
}

TEST(Compare, CtrlCKeepsFinishedArmsLeavesNoPartialFilesAndResumes) {
  TempDir dir("compare_int");
  const std::string model = ft::testing::tiny_klue_model(dir), out = dir / "study";
  const std::string args = compare_args(model, out, 3000, 3);
  // In its own process group, as a shell job is: Ctrl-C goes to compare and its training child alike.
  const std::string shell = std::string("exec ") + FT_BINARY + args + " > " + (dir / "log.txt") + " 2>&1";
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP);
  posix_spawnattr_setpgroup(&attr, 0);
  const char* argv[] = {"/bin/sh", "-c", shell.c_str(), nullptr};
  pid_t pid = 0;
  ASSERT_EQ(posix_spawn(&pid, "/bin/sh", nullptr, &attr, const_cast<char**>(argv), environ), 0);
  // Wait until the second arm is training, then press Ctrl-C.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::minutes(3);
  while (!ft::file_exists(out + "/lora/arm_config.json") && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  ASSERT_TRUE(ft::file_exists(out + "/lora/arm_config.json")) << ft::read_file(dir / "log.txt");
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  kill(-pid, SIGINT);
  int status = 0;
  waitpid(pid, &status, 0);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) != 0) << ft::read_file(dir / "log.txt");
  EXPECT_NE(ft::read_file(dir / "log.txt").find("interrupted"), std::string::npos) << ft::read_file(dir / "log.txt");

  EXPECT_TRUE(ft::file_exists(out + "/full/results.json"));
  EXPECT_FALSE(ft::file_exists(out + "/lora/results.json"));
  EXPECT_FALSE(ft::file_exists(out + "/comparison.json"));
  for (const std::string& file : ft::files_below(out)) EXPECT_EQ(file.find(".tmp."), std::string::npos) << file;

  // Re-running finishes the interrupted arm only.
  const auto before = std::filesystem::last_write_time(out + "/full/results.json");
  ASSERT_EQ(std::system((std::string(FT_BINARY) + args + " > " + (dir / "log2.txt") + " 2>&1").c_str()), 0)
      << ft::read_file(dir / "log2.txt");
  EXPECT_EQ(std::filesystem::last_write_time(out + "/full/results.json"), before);
  EXPECT_TRUE(ft::file_exists(out + "/lora/results.json"));
  EXPECT_TRUE(ft::file_exists(out + "/comparison.json"));
}

}  // namespace

namespace {

TEST(Compare, SeveralSeedsAndExtraArmsFromAConfigFile) {
  TempDir dir("compare_seeds");
  const std::string model = ft::testing::tiny_klue_model(dir), out = dir / "study";
  ft::write_json_atomic(dir / "experiment.json",
                        {{"output_dir", out},
                         {"seeds", {1, 2}},
                         {"common", {{"model_name_or_path", model}, {"random_init", true},
                                     {"train_file", nsmc_path("ratings_train.txt")},
                                     {"eval_file", nsmc_path("ratings_test.txt")}, {"max_train_samples", 160},
                                     {"max_eval_samples", 100}, {"num_train_epochs", 1}, {"threads", 1}}},
                         {"arms", {{{"arm", "full"}, {"method", "full"}, {"learning_rate", 1e-3}},
                                   {{"arm", "lora-r2"}, {"method", "lora"}, {"lora_r", 2}, {"learning_rate", 1e-2}},
                                   {{"arm", "head"}, {"method", "head"}, {"learning_rate", 1e-2}}}}});
  const std::string cmd = std::string(FT_BINARY) + " compare --config " + (dir / "experiment.json") + " > " +
                          (dir / "log.txt") + " 2>&1";
  ASSERT_EQ(std::system(cmd.c_str()), 0) << ft::read_file(dir / "log.txt");
  for (const char* arm : {"full", "lora-r2", "head"})
    for (const char* seed : {"seed-1", "seed-2"})
      EXPECT_TRUE(ft::file_exists(out + "/" + arm + "/" + seed + "/results.json")) << arm << "/" << seed;
  const auto c = ft::read_json(out + "/comparison.json");
  ASSERT_EQ(c["arms"].size(), 3u);
  for (const auto& a : c["arms"]) {
    EXPECT_EQ(a["n_runs"], 2) << a["arm"];
    EXPECT_TRUE(a["metrics"]["accuracy"].contains("std")) << a.dump();
  }
  // The seed reaches the run: two seeds give two different data orders and initialisations.
  EXPECT_NE(ft::read_json(out + "/full/seed-1/results.json")["train"]["final_loss"],
            ft::read_json(out + "/full/seed-2/results.json")["train"]["final_loss"]);
  EXPECT_TRUE(ft::file_exists(out + "/tradeoff.png"));
}

}  // namespace

namespace {

// An arm stopped after its first epoch (its checkpoint-5 kept, nothing after it) continues from
// that checkpoint on the next compare, and ends exactly as the uninterrupted arm did.
TEST(Compare, InterruptedArmContinuesFromItsCheckpoint) {
  TempDir dir("compare_ckpt");
  const std::string model = ft::testing::tiny_klue_model(dir), out = dir / "study";
  ft::write_json_atomic(dir / "experiment.json",
                        {{"output_dir", out},
                         {"common", {{"model_name_or_path", model}, {"random_init", true},
                                     {"train_file", nsmc_path("ratings_train.txt")},
                                     {"eval_file", nsmc_path("ratings_test.txt")}, {"max_train_samples", 160},
                                     {"max_eval_samples", 100}, {"num_train_epochs", 2}, {"threads", 1},
                                     {"save_total_limit", 0}}},
                         {"arms", {{{"arm", "full"}, {"method", "full"}, {"learning_rate", 1e-3}},
                                   {{"arm", "lora"}, {"method", "lora"}, {"learning_rate", 1e-2}}}}});
  const std::string cmd = std::string(FT_BINARY) + " compare --config " + (dir / "experiment.json");
  ASSERT_EQ(std::system((cmd + " > " + (dir / "log1.txt") + " 2>&1").c_str()), 0) << ft::read_file(dir / "log1.txt");
  const std::string arm = out + "/lora";
  for (const char* c : {"checkpoint-5", "checkpoint-10"}) ASSERT_TRUE(ft::file_exists(arm + "/" + c + "/trainer_state.json")) << c;
  const auto results = ft::read_json(arm + "/results.json");
  const auto weights = ft::read_file(arm + "/adapter_model.safetensors");
  const auto log = ft::read_json(arm + "/trainer_state.json")["log_history"];

  std::filesystem::remove(arm + "/results.json");
  ft::remove_tree(arm + "/checkpoint-10");
  ASSERT_EQ(std::system((cmd + " > " + (dir / "log2.txt") + " 2>&1").c_str()), 0) << ft::read_file(dir / "log2.txt");
  EXPECT_NE(ft::read_file(dir / "log2.txt").find("resuming from " + arm + "/checkpoint-5"), std::string::npos)
      << ft::read_file(dir / "log2.txt");
  const auto again = ft::read_json(arm + "/results.json");
  EXPECT_EQ(again["train"]["final_loss"], results["train"]["final_loss"]);
  auto without_times = [](nlohmann::json m) {
    m.erase("runtime_s");
    m.erase("samples_per_second");
    return m;
  };
  EXPECT_EQ(without_times(again["eval"]["final"]), without_times(results["eval"]["final"]));
  EXPECT_EQ(ft::read_file(arm + "/adapter_model.safetensors"), weights);
  const auto log2 = ft::read_json(arm + "/trainer_state.json")["log_history"];
  ASSERT_EQ(log.size(), log2.size());
  for (size_t i = 0; i + 1 < log.size(); ++i) {  // the last entry holds run times
    if (log[i].contains("loss")) {
      EXPECT_EQ(log[i], log2[i]) << i;
    }
  }
}

TEST(Compare, RobustnessSectionEvaluatesEveryArmAndResumes) {
  TempDir dir("compare_robust");
  const std::string model = ft::testing::tiny_klue_model(dir), out = dir / "study";
  nlohmann::json config = {
      {"output_dir", out},
      {"equivalence_margin", 2.5},
      {"common", {{"model_name_or_path", model}, {"random_init", true},
                  {"train_file", nsmc_path("ratings_train.txt")},
                  {"eval_file", nsmc_path("ratings_test.txt")}, {"max_train_samples", 64},
                  {"max_eval_samples", 80}, {"num_train_epochs", 1}, {"threads", 1}}},
      {"arms", {{{"arm", "full"}, {"method", "full"}, {"learning_rate", 1e-3}},
                {{"arm", "lora"}, {"method", "lora"}, {"learning_rate", 1e-2}}}},
      {"robustness", {{"perturbations", {{{"name", "no_spaces"}, {"rate", 1.0}}, {{"name", "jamo"}, {"rate", 0.2}}}},
                      {"seed", 7}}}};
  ft::write_json_atomic(dir / "experiment.json", config);
  const std::string cmd = std::string(FT_BINARY) + " compare --config " + (dir / "experiment.json") + " > " +
                          (dir / "log.txt") + " 2>&1";
  ASSERT_EQ(std::system(cmd.c_str()), 0) << ft::read_file(dir / "log.txt");
  for (const char* arm : {"full", "lora"}) {
    const auto r = ft::read_json(out + "/" + arm + "/robustness/robustness.json");
    ASSERT_EQ(r["results"].size(), 3u) << arm;
    EXPECT_EQ(r["seed"], 7);
    EXPECT_EQ(r["n"], 80);
    // The clean set is the arm's own eval set: the same accuracy as training reported.
    EXPECT_DOUBLE_EQ(r["results"][0]["accuracy"].get<double>(),
                     ft::read_json(out + "/" + arm + "/results.json")["eval"]["final"]["accuracy"].get<double>());
  }
  // Both arms saw the same perturbed texts.
  EXPECT_EQ(ft::read_file(out + "/full/robustness/data/jamo_0.2.tsv"), ft::read_file(out + "/lora/robustness/data/jamo_0.2.tsv"));
  const auto c = ft::read_json(out + "/comparison.json");
  ASSERT_TRUE(c.contains("robustness")) << c.dump(2);
  EXPECT_EQ(c["robustness"]["pairs"].size(), 2u);
  int robustness_verdicts = 0;
  for (const auto& v : c["verdicts"])
    robustness_verdicts += v["claim"].get<std::string>().rfind("degrades less under ", 0) == 0;
  EXPECT_EQ(robustness_verdicts, 2);
  EXPECT_DOUBLE_EQ(c["options"]["equivalence_margin"], 0.025);
  const std::string log = ft::read_file(dir / "log.txt");
  EXPECT_NE(log.find("lora vs full: degrades less under no_spaces:1: "), std::string::npos) << log;
  EXPECT_NE(log.find("lora vs full: accuracy equivalent within ±2.5 pp: "), std::string::npos) << log;
  EXPECT_NE(ft::read_file(out + "/report.md").find("## Robustness"), std::string::npos);

  // A second run keeps the robustness results; other settings redo them.
  const auto before = std::filesystem::last_write_time(out + "/full/robustness/robustness.json");
  ASSERT_EQ(std::system(cmd.c_str()), 0) << ft::read_file(dir / "log.txt");
  EXPECT_EQ(std::filesystem::last_write_time(out + "/full/robustness/robustness.json"), before);
  EXPECT_NE(ft::read_file(dir / "log.txt").find("robustness finished earlier, kept"), std::string::npos);
  config["robustness"]["perturbations"] = "char_noise:0.1";
  ft::write_json_atomic(dir / "experiment.json", config);
  ASSERT_EQ(std::system(cmd.c_str()), 0) << ft::read_file(dir / "log.txt");
  EXPECT_EQ(ft::read_json(out + "/full/robustness/robustness.json")["results"][1]["perturbation"], "char_noise:0.1");

  // A bad section fails before any training, naming the config and the field.
  config["robustness"]["perturbations"] = "typo:0.1";
  ft::write_json_atomic(dir / "experiment.json", config);
  EXPECT_NE(std::system(cmd.c_str()), 0);
  const std::string err = ft::read_file(dir / "log.txt");
  EXPECT_NE(err.find("experiment.json: robustness perturbations: unknown perturbation 'typo'"), std::string::npos) << err;
}

TEST(Compare, ValidationSplitLearningRateSweepAndPerturbationsEndToEnd) {
  TempDir dir("compare_sweep");
  const std::string model = ft::testing::tiny_klue_model(dir), out = dir / "study";
  nlohmann::json config = {
      {"output_dir", out},
      {"common", {{"model_name_or_path", model}, {"random_init", true},
                  {"train_file", nsmc_path("ratings_train.txt")}, {"eval_file", nsmc_path("ratings_test.txt")},
                  {"max_train_samples", 80}, {"validation_split", 0.25}, {"max_eval_samples", 60},
                  {"num_train_epochs", 1}, {"threads", 1}}},
      {"arms", {{{"arm", "full"}, {"method", "full"}, {"learning_rate", {1e-4, 3e-3}}},
                {{"arm", "lora"}, {"method", "lora"}, {"learning_rate", 1e-2}}}},
      {"robustness", {{"perturbations", {{{"name", "no_spaces"}, {"rate", 1.0}}, {{"name", "jamo"}, {"rate", 0.2}}}}}}};
  ft::write_json_atomic(dir / "experiment.json", config);
  const std::string log_path = dir / "log.txt";
  ASSERT_EQ(std::system((std::string(FT_BINARY) + " compare --config " + (dir / "experiment.json") + " > " + log_path + " 2>&1").c_str()), 0)
      << ft::read_file(log_path);
  // Each rate trained on the same 60 examples and chose on the same 20 held out; the lower final validation loss wins.
  double best_loss = 1e300, best_rate = 0;
  for (const char* rate : {"lr-0.0001", "lr-0.003"}) {
    const auto r = ft::read_json(out + "/full/" + rate + "/results.json");
    EXPECT_EQ(r["data"]["train"]["examples"], 60);
    EXPECT_EQ(r["data"]["validation"]["examples"], 20);
    EXPECT_EQ(r["data"]["selection_set"], "validation");
    EXPECT_EQ(r["eval"]["final"]["n"], 60);
    if (r["validation"]["final"]["loss"].get<double>() < best_loss) {
      best_loss = r["validation"]["final"]["loss"];
      best_rate = r["hyperparameters"]["learning_rate"];
    }
  }
  const auto c = ft::read_json(out + "/comparison.json");
  ASSERT_EQ(c["sweeps"].size(), 1u) << c.dump(2);
  EXPECT_DOUBLE_EQ(c["sweeps"][0]["chosen"].get<double>(), best_rate);
  ASSERT_EQ(c["runs"].size(), 2u);
  for (const auto& r : c["runs"]) {
    EXPECT_EQ(r["selection_set"], "validation");
    if (r["arm"] == "full") {
      EXPECT_DOUBLE_EQ(r["learning_rate"].get<double>(), best_rate);
    }
  }
  EXPECT_TRUE(c.contains("robustness"));
  EXPECT_TRUE(c.contains("calibration"));
  const std::string report = ft::read_file(out + "/report.md"), log = ft::read_file(log_path);
  for (const char* section : {"## Data provenance", "## Learning-rate sweeps", "## Robustness", "## Calibration", "## Verdicts"})
    EXPECT_NE(report.find(section), std::string::npos) << section;
  EXPECT_EQ(report.find("the test set chose"), std::string::npos);
  // Every verdict of comparison.json is printed, with the same word.
  for (const auto& v : c["verdicts"]) {
    const std::string line = v["arm"].get<std::string>() + " vs " + v["baseline"].get<std::string>() + ": " +
                             v["claim"].get<std::string>() + ": " + v["status"].get<std::string>() + " — ";
    EXPECT_NE(log.find(line), std::string::npos) << line << "\n" << log;
  }
  EXPECT_GT(ft::read_file(out + "/robustness.png").size(), 1000u);

  // A sweep without a validation set is refused before anything trains.
  config["common"].erase("validation_split");
  config["output_dir"] = dir / "biased";
  ft::write_json_atomic(dir / "biased.json", config);
  EXPECT_NE(std::system((std::string(FT_BINARY) + " compare --config " + (dir / "biased.json") + " > " + log_path + " 2>&1").c_str()), 0);
  EXPECT_NE(ft::read_file(log_path).find("no validation set"), std::string::npos) << ft::read_file(log_path);
  EXPECT_FALSE(ft::file_exists(dir / "biased/full"));
}

// The same experiment three ways: one run after another, two at once, and as emitted jobs run by a
// plain shell loop and then gathered by `finetune report`.
TEST(Compare, ParallelRunsAndEmittedJobsGiveTheSequentialFigures) {
  TempDir dir("compare_parallel");
  const std::string model = ft::testing::tiny_klue_model(dir);
  const nlohmann::json config = {
      {"common", {{"model_name_or_path", model}, {"random_init", true}, {"train_file", nsmc_path("ratings_train.txt")},
                  {"eval_file", nsmc_path("ratings_test.txt")}, {"max_train_samples", 64}, {"max_eval_samples", 80},
                  {"num_train_epochs", 1}, {"threads", 1}}},
      {"arms", {{{"arm", "full"}, {"method", "full"}, {"learning_rate", 1e-3}},
                {{"arm", "lora"}, {"method", "lora"}, {"learning_rate", 1e-2}}}}};
  ft::write_json_atomic(dir / "experiment.json", config);
  const std::string ft = std::string(FT_BINARY) + " ", cfg = " --config " + (dir / "experiment.json"), log = dir / "log.txt";
  auto sh = [&](const std::string& cmd) { return std::system(("(" + cmd + ") > " + log + " 2>&1").c_str()); };
  ASSERT_EQ(sh(ft + "compare" + cfg + " --output-dir " + (dir / "seq")), 0) << ft::read_file(log);
  ASSERT_EQ(sh(ft + "compare" + cfg + " --parallel 2 --output-dir " + (dir / "par")), 0) << ft::read_file(log);
  EXPECT_TRUE(ft::file_exists(dir / "par/full/train.log"));
  EXPECT_TRUE(ft::file_exists(dir / "par/lora/train.log"));
  // Runs that shared the machine say so, and the report marks them.
  EXPECT_EQ(ft::read_json(dir / "par/lora/results.json")["environment"]["concurrent_runs"], 2);
  EXPECT_EQ(ft::read_json(dir / "seq/lora/results.json")["environment"]["concurrent_runs"], 1);
  EXPECT_NE(ft::read_file(dir / "par/report.md").find("| lora † |"), std::string::npos) << ft::read_file(dir / "par/report.md");

  ASSERT_EQ(sh(ft + "compare" + cfg + " --output-dir " + (dir / "jobs_out") + " --emit-jobs " + (dir / "jobs")), 0) << ft::read_file(log);
  EXPECT_FALSE(ft::file_exists(dir / "jobs_out/full/results.json")) << "emitting trains nothing";
  const std::string jobs = ft::read_file(dir / "jobs/jobs.sh");
  EXPECT_NE(jobs.find("--only 1\n"), std::string::npos) << jobs;
  EXPECT_NE(jobs.find("--only 2\n"), std::string::npos) << jobs;
  EXPECT_NE(ft::read_file(dir / "jobs/slurm.sbatch").find("#SBATCH --array=1-2\n"), std::string::npos);
  ASSERT_EQ(sh("grep -v '^#' " + (dir / "jobs/jobs.sh") + " | while read -r line; do bash -c \"$line\" || exit 1; done"), 0)
      << ft::read_file(log);
  EXPECT_FALSE(ft::file_exists(dir / "jobs_out/comparison.json")) << "a single job writes no report";
  ASSERT_EQ(sh(ft + "report --run-dir " + (dir / "jobs_out")), 0) << ft::read_file(log);

  const auto seq = ft::read_json(dir / "seq/comparison.json");
  for (const char* other : {"par/comparison.json", "jobs_out/comparison.json"}) {
    const auto c = ft::read_json(dir / other);
    ASSERT_EQ(c["arms"].size(), seq["arms"].size()) << other;
    for (size_t a = 0; a < seq["arms"].size(); ++a)
      for (const char* m : {"accuracy", "f1", "eval_loss", "train_loss", "generalization_gap", "trainable_params"})
        EXPECT_EQ(c["arms"][a]["metrics"][m]["mean"], seq["arms"][a]["metrics"][m]["mean"]) << other << " " << m;
    EXPECT_EQ(c["pairs"][0]["mcnemar"], seq["pairs"][0]["mcnemar"]) << other;
    EXPECT_EQ(c["pairs"][0]["bootstrap"], seq["pairs"][0]["bootstrap"]) << other;
  }
}

}  // namespace

namespace {

// Two seeds (so the verdicts' intervals are the two-level bootstrap's), a validation split, one
// perturbation: every kind of verdict, on a tiny model.
nlohmann::json replication_config(const std::string& model, int threads) {
  return {{"seeds", {1, 2}},
          {"common", {{"model_name_or_path", model}, {"random_init", true}, {"train_file", nsmc_path("ratings_train.txt")},
                      {"eval_file", nsmc_path("ratings_test.txt")}, {"max_train_samples", 200}, {"validation_split", 0.2},
                      {"max_eval_samples", 120}, {"num_train_epochs", 1}, {"threads", threads}}},
          {"arms", {{{"arm", "full"}, {"method", "full"}, {"learning_rate", 1e-3}},
                    {{"arm", "lora"}, {"method", "lora"}, {"learning_rate", 1e-2}}}},
          {"robustness", {{"perturbations", {{{"name", "jamo"}, {"rate", 0.2}}}}}}};
}

// Runs `finetune compare` on the config into dir/out; returns comparison.json.
nlohmann::json run_study(const TempDir& dir, const nlohmann::json& config, const std::string& out) {
  const std::string cfg = dir / (out + ".json"), log = dir / (out + ".log");
  ft::write_json_atomic(cfg, config);
  const std::string cmd = std::string(FT_BINARY) + " compare --config " + cfg + " --output-dir " + (dir / out) + " > " + log + " 2>&1";
  EXPECT_EQ(std::system(cmd.c_str()), 0) << ft::read_file(log);
  return ft::read_json(dir / (out + "/comparison.json"));
}

// Memory and time measure the machine (the thread count sets them by design), not the models.
bool measures_the_machine(const nlohmann::json& verdict) {
  return verdict["claim"] == "memory reduced" || verdict["claim"] == "faster";
}

// The same config, threads and device twice: the same weights, predictions, losses, intervals and
// verdicts, to the bit.
TEST(Compare, SameConfigThreadsAndDeviceGiveBitIdenticalModelsAndVerdicts) {
  TempDir dir("compare_rerun");
  const std::string model = ft::testing::tiny_klue_model(dir);
  const nlohmann::json config = replication_config(model, 2);
  const nlohmann::json a = run_study(dir, config, "a"), b = run_study(dir, config, "b");
  for (const char* run : {"full/seed-1", "full/seed-2", "lora/seed-1", "lora/seed-2"}) {
    const std::string ra = dir / (std::string("a/") + run), rb = dir / (std::string("b/") + run);
    const char* weights = std::string(run).rfind("full", 0) == 0 ? "model.safetensors" : "adapter_model.safetensors";
    EXPECT_EQ(ft::read_file(ra + "/" + weights), ft::read_file(rb + "/" + weights)) << run;
    EXPECT_EQ(ft::read_file(ra + "/predictions.tsv"), ft::read_file(rb + "/predictions.tsv")) << run;
    EXPECT_EQ(ft::read_json(ra + "/robustness/robustness.json")["results"], ft::read_json(rb + "/robustness/robustness.json")["results"])
        << run;  // accuracy, loss and F1 on the clean and perturbed sets
    const auto la = ft::read_json(ra + "/results.json"), lb = ft::read_json(rb + "/results.json");
    EXPECT_EQ(la["eval"]["final"]["loss"], lb["eval"]["final"]["loss"]) << run;
    EXPECT_EQ(la["train"]["final_loss"], lb["train"]["final_loss"]) << run;
  }
  EXPECT_EQ(a["pairs"], b["pairs"]);
  EXPECT_EQ(a["accuracy_over_seeds"], b["accuracy_over_seeds"]);
  EXPECT_EQ(a["robustness"]["pairs"], b["robustness"]["pairs"]);
  EXPECT_EQ(a["calibration"], b["calibration"]);
  ASSERT_EQ(a["verdicts"].size(), b["verdicts"].size());
  for (size_t i = 0; i < a["verdicts"].size(); ++i) {
    if (measures_the_machine(a["verdicts"][i])) continue;
    EXPECT_EQ(a["verdicts"][i], b["verdicts"][i]);  // claim, holds, status, covers and every figure of the evidence
  }
}

// A replication check: the same study with 1 and with 2 threads per run trains slightly different
// models (other summation orders), and no verdict about the models may turn from holds to does not
// hold or back; undecided on one side is allowed.
TEST(Compare, NoVerdictFlipsBetweenThreadCounts) {
  TempDir dir("compare_threads");
  const std::string model = ft::testing::tiny_klue_model(dir);
  const nlohmann::json one = run_study(dir, replication_config(model, 1), "one");
  const nlohmann::json two = run_study(dir, replication_config(model, 2), "two");
  ASSERT_EQ(one["verdicts"].size(), two["verdicts"].size());
  int decided_both = 0;
  for (size_t i = 0; i < one["verdicts"].size(); ++i) {
    const auto &v1 = one["verdicts"][i], &v2 = two["verdicts"][i];
    ASSERT_EQ(v1["claim"], v2["claim"]);
    if (measures_the_machine(v1) || v1["holds"].is_null() || v2["holds"].is_null()) continue;
    ++decided_both;
    EXPECT_EQ(v1["holds"], v2["holds"]) << v1["claim"] << "\n1 thread: " << v1["evidence"] << "\n2 threads: " << v2["evidence"];
  }
  EXPECT_GE(decided_both, 3) << "the check compares decided verdicts (parameters, accuracy, calibration ...)";
  int differ = 0;  // how far apart the thread counts put the models (summation order; 0 on some BLAS builds)
  for (const char* run : {"full/seed-1", "full/seed-2", "lora/seed-1", "lora/seed-2"})
    differ += ft::read_json(dir / (std::string("one/") + run + "/results.json"))["eval"]["final"]["loss"] !=
              ft::read_json(dir / (std::string("two/") + run + "/results.json"))["eval"]["final"]["loss"];
  std::printf("1 vs 2 threads: %d of 4 runs end at another test loss; %d verdicts decided in both\n", differ, decided_both);
}

}  // namespace
