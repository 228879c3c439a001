// Training end to end on a synthetic task a tiny encoder can learn, plus the schedule, the
// reproducibility promise and the files a run leaves behind (read back through the CLI).
#include <gtest/gtest.h>

#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <numeric>
#include <random>

#include "core/error.h"
#include "core/files.h"
#include "core/run_folder.h"
#include "data/dataset.h"
#include "io/state_dict.h"
#include "train/trainer.h"
#include "synthetic_task.h"
#include "test_util.h"
#include "text/tokenizer.h"
#include "train/args.h"
#include "train/run.h"

namespace {

using ft::testing::SyntheticTask;
using ft::testing::TempDir;

TEST(Schedule, MatchesHuggingFaceFormulas) {
  using ft::train::lr_factor;
  // linear with 10 warmup steps of 110: ramps 0 → 1, then decays to 0 at step 110.
  EXPECT_DOUBLE_EQ(lr_factor("linear", 0, 10, 110), 0.0);
  EXPECT_DOUBLE_EQ(lr_factor("linear", 5, 10, 110), 0.5);
  EXPECT_DOUBLE_EQ(lr_factor("linear", 10, 10, 110), 1.0);
  EXPECT_DOUBLE_EQ(lr_factor("linear", 60, 10, 110), 0.5);
  EXPECT_DOUBLE_EQ(lr_factor("linear", 110, 10, 110), 0.0);
  EXPECT_DOUBLE_EQ(lr_factor("cosine", 60, 10, 110), 0.5);  // half-way down the half cosine
  EXPECT_NEAR(lr_factor("cosine", 35, 10, 110), 0.5 * (1 + std::cos(M_PI * 0.25)), 1e-15);
  EXPECT_DOUBLE_EQ(lr_factor("constant", 100, 0, 110), 1.0);
}

TEST(TrainingArgs, ConfigKeysAreHFNamesAndUnknownKeysAreErrors) {
  ft::train::TrainingArguments a;
  a.update_from_json({{"learning_rate", 2e-4}, {"eval_strategy", "steps"}, {"per_device_train_batch_size", 8}}, "cfg.json");
  EXPECT_DOUBLE_EQ(a.learning_rate, 2e-4);
  EXPECT_EQ(a.evaluation_strategy, "steps");
  EXPECT_EQ(a.per_device_train_batch_size, 8);
  EXPECT_THROW(a.update_from_json({{"learning_rat", 1}}, "cfg.json"), ft::Error);
  EXPECT_THROW(a.update_from_json({{"learning_rate", "fast"}}, "cfg.json"), ft::Error);
  a.fp16 = true;
  a.bf16 = true;
  EXPECT_THROW(a.validate(), ft::Error);
}

TEST(Training, FullFineTuningLearnsTheTaskAndWritesHFFiles) {
  SyntheticTask task;
  TempDir out("train_full");
  const auto r = ft::train::run_training(task.spec(out.path, "full"));
  EXPECT_GE(r["eval"]["final"]["accuracy"].get<double>(), 0.95) << r.dump(2);
  EXPECT_EQ(r["parameters"]["trainable"], r["parameters"]["total"]);
  const double gap = r["eval"]["final"]["loss"].get<double>() - r["train"]["final_loss"].get<double>();
  EXPECT_DOUBLE_EQ(r["generalization_gap"].get<double>(), gap);

  const auto state = ft::read_json(out / "trainer_state.json");
  int train_logs = 0, eval_logs = 0;
  for (const auto& e : state["log_history"]) {
    if (e.contains("loss")) {
      ++train_logs;
      for (const char* k : {"grad_norm", "learning_rate", "epoch", "step"}) EXPECT_TRUE(e.contains(k)) << k;
    }
    if (e.contains("eval_loss")) {
      ++eval_logs;
      for (const char* k : {"eval_accuracy", "eval_f1", "eval_runtime", "eval_samples_per_second"}) EXPECT_TRUE(e.contains(k)) << k;
    }
  }
  EXPECT_EQ(eval_logs, 6);  // one per epoch
  EXPECT_EQ(train_logs, 30);  // 50 steps/epoch · 6 epochs / 10
  EXPECT_TRUE(ft::file_exists(out / "model.safetensors"));
  EXPECT_TRUE(ft::file_exists(out / "vocab.txt"));
  EXPECT_EQ(ft::data::read_lines(out / "predictions.tsv").size(), 201u);
}

TEST(Training, SameSeedSameLossesAndLoraTrainsOnlyAdapterAndHead) {
  SyntheticTask task;
  TempDir a("train_a"), b("train_b");
  auto spec = task.spec(a.path, "lora");
  spec.args.num_train_epochs = 1;
  spec.args.logging_steps = 1;
  const auto ra = ft::train::run_training(spec);
  spec.args.output_dir = b.path;
  const auto rb = ft::train::run_training(spec);
  const auto la = ft::read_json(a / "trainer_state.json")["log_history"];
  const auto lb = ft::read_json(b / "trainer_state.json")["log_history"];
  std::vector<double> losses_a, losses_b;
  for (const auto& e : la) if (e.contains("loss")) losses_a.push_back(e["loss"]);
  for (const auto& e : lb) if (e.contains("loss")) losses_b.push_back(e["loss"]);
  ASSERT_EQ(losses_a.size(), 50u);
  EXPECT_EQ(losses_a, losses_b);
  // Logging every 8 of 50 steps: windows end at steps 8..48 (no 2-step tail window), and the final
  // train loss is the mean of the last 8 steps, the same steps' losses as above.
  TempDir d("train_d");
  spec.args.output_dir = d.path;
  spec.args.logging_steps = 8;
  const auto rd = ft::train::run_training(spec);
  std::vector<int64_t> logged_steps;
  const auto ld = ft::read_json(d / "trainer_state.json")["log_history"];
  for (const auto& e : ld)
    if (e.contains("loss")) logged_steps.push_back(e["step"]);
  EXPECT_EQ(logged_steps, (std::vector<int64_t>{8, 16, 24, 32, 40, 48}));
  const double last8 = std::accumulate(losses_a.end() - 8, losses_a.end(), 0.0) / 8;
  EXPECT_NEAR(rd["train"]["final_loss"].get<double>(), last8, 1e-4);  // logged losses are rounded to 4 digits
  spec.args.logging_steps = 1;
  // LoRA on query, value, intermediate.dense of 2 layers (r 8) + the head:
  // 2·[2·8·(32+32) + 8·(32+64)] + (32·32+32) + (2·32+2) = 2·1792 + 1056 + 66.
  EXPECT_EQ(ra["parameters"]["trainable"], 2 * 1792 + 1056 + 66);
  EXPECT_TRUE(ft::file_exists(a / "adapter_model.safetensors"));
  EXPECT_FALSE(ft::file_exists(a / "model.safetensors"));
  // A different seed gives a different run.
  spec.args.seed = 7;
  spec.model.seed = 7;
  TempDir c("train_c");
  spec.args.output_dir = c.path;
  ft::train::run_training(spec);
  std::vector<double> losses_c;
  const auto lc = ft::read_json(c / "trainer_state.json")["log_history"];  // a copy: the loop must not outlive it
  for (const auto& e : lc) if (e.contains("loss")) losses_c.push_back(e["loss"]);
  ASSERT_EQ(losses_c.size(), 50u);
  EXPECT_NE(losses_a, losses_c);
}

// Log entries as an uninterrupted run and a resumed one must both have them: everything but times.
std::vector<nlohmann::json> comparable_log(const std::string& run_dir) {
  std::vector<nlohmann::json> out;
  const nlohmann::json state = ft::read_json(run_dir + "/trainer_state.json");  // outlives the loop
  for (nlohmann::json e : state["log_history"]) {
    if (e.contains("train_runtime")) continue;
    for (const char* k : {"eval_runtime", "eval_samples_per_second"}) e.erase(k);
    out.push_back(e);
  }
  return out;
}

TEST(TrainingResume, ContinuesBitForBitFromACheckpoint) {
  SyntheticTask task;
  for (const std::string method : {"full", "lora"}) {
    TempDir a("resume_a"), b("resume_b");
    auto spec = task.spec(a.path, method);
    spec.args.num_train_epochs = 2;  // 100 steps, dropout 0.1: the random generators' state matters
    spec.args.logging_steps = 5;
    spec.args.save_strategy = "steps";
    spec.args.save_steps = 30;
    spec.args.evaluation_strategy = "steps";
    spec.args.eval_steps = 30;  // the best model's weights are in its checkpoint
    spec.args.load_best_model_at_end = true;
    spec.args.metric_for_best_model = "eval_accuracy";
    const auto ra = ft::train::run_training(spec);
    for (int step : {30, 60, 90}) EXPECT_TRUE(ft::file_exists(a / ("checkpoint-" + std::to_string(step)) + "/trainer_state.json"));

    // As if killed between steps 60 and 90: the run folder holds checkpoints 30 and 60 and a half-written next one.
    for (const char* c : {"checkpoint-30", "checkpoint-60"})
      std::filesystem::copy(a / c, b / c, std::filesystem::copy_options::recursive);
    std::filesystem::copy(a / ft::kRunMarker, b / ft::kRunMarker);
    std::filesystem::copy(a / "checkpoint-90", b / "checkpoint-90.tmp", std::filesystem::copy_options::recursive);
    spec.args.output_dir = b.path;
    spec.resume_from_checkpoint = "latest";
    const auto rb = ft::train::run_training(spec);
    EXPECT_EQ(comparable_log(a.path), comparable_log(b.path)) << method;
    // Every step's loss up to the next checkpoint, as exact doubles: steps 1-60 restored, 61-90 recomputed.
    const auto losses_a = ft::read_json(a / "checkpoint-90/trainer_state.json")["losses"];
    const auto losses_b = ft::read_json(b / "checkpoint-90/trainer_state.json")["losses"];
    ASSERT_EQ(losses_a.size(), 90u);
    EXPECT_EQ(losses_a, losses_b) << method;
    const std::string weights = method == "full" ? "/model.safetensors" : "/adapter_model.safetensors";
    const auto wa = ft::io::read_safetensors(a.path + weights), wb = ft::io::read_safetensors(b.path + weights);
    ASSERT_EQ(wa.size(), wb.size());
    for (const auto& [name, t] : wa) EXPECT_TRUE(t.equal(wb.at(name))) << method << " " << name;
    EXPECT_EQ(ra["train"]["final_loss"], rb["train"]["final_loss"]);
    EXPECT_EQ(ra["eval"]["final"]["accuracy"], rb["eval"]["final"]["accuracy"]);
    EXPECT_EQ(ra["eval"]["best"], rb["eval"]["best"]);
    EXPECT_EQ(ra["train"]["samples"], rb["train"]["samples"]);
    EXPECT_EQ(ft::read_file(a / "predictions.tsv"), ft::read_file(b / "predictions.tsv"));

    // A checkpoint of other settings is refused, naming the setting.
    spec.args.seed = 7;
    spec.model.seed = 7;
    spec.resume_from_checkpoint = b / "checkpoint-90";
    try {
      ft::train::run_training(spec);
      ADD_FAILURE() << "expected a refusal";
    } catch (const ft::Error& e) {
      EXPECT_NE(std::string(e.what()).find("seed"), std::string::npos) << e.what();
    }
  }
}

TEST(TrainingResume, SaveTotalLimitKeepsTheNewestAndTheBestAndResumeNeedsACheckpoint) {
  SyntheticTask task;
  TempDir out("resume_limit");
  auto spec = task.spec(out.path, "full");
  spec.args.num_train_epochs = 2;
  spec.args.save_strategy = "epoch";
  spec.args.evaluation_strategy = "epoch";
  spec.args.save_total_limit = 1;
  spec.resume_from_checkpoint = "latest";
  try {
    ft::train::run_training(spec);
    ADD_FAILURE() << "expected an error: nothing to resume";
  } catch (const ft::Error& e) {
    EXPECT_NE(std::string(e.what()).find("no complete checkpoint"), std::string::npos) << e.what();
  }
  spec.resume_from_checkpoint.clear();
  ft::train::run_training(spec);
  const auto state = ft::read_json(out / "trainer_state.json");
  std::vector<std::string> kept;
  for (const auto& p : ft::list_dir(out.path))
    if (p.find("checkpoint-") != std::string::npos) kept.push_back(p.substr(p.find("checkpoint-")));
  // The newest (step 100); and step 50 too when its evaluation was the best (eval_loss).
  std::vector<std::string> expected = {"checkpoint-100"};
  const auto history = state["log_history"];
  double best = 1e9;
  int64_t best_step = -1;
  for (const auto& e : history)
    if (e.contains("eval_loss") && e["eval_loss"].get<double>() < best) {
      best = e["eval_loss"];
      best_step = e["step"];
    }
  if (best_step == 50) expected.insert(expected.begin(), "checkpoint-50");
  EXPECT_EQ(kept, expected);
}

TEST(Training, NonFiniteLossStopsWithoutWritingAModel) {
  SyntheticTask task;
  TempDir out("train_nan");
  auto spec = task.spec(out.path, "full");
  spec.args.learning_rate = 1e30;
  spec.args.warmup_ratio = 0;
  spec.args.num_train_epochs = 1;
  // The losses are read from the device every 10 steps: the blow-up (step 2 or 3) is noticed at step 10.
  try {
    ft::train::run_training(spec);
    FAIL() << "expected the loss to blow up";
  } catch (const ft::Error& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find("training loss became"), std::string::npos) << msg;
    EXPECT_NE(msg.find("without writing a model"), std::string::npos) << msg;
  }
  for (const char* f : {"model.safetensors", "adapter_model.safetensors", "results.json", "trainer_state.json"})
    EXPECT_FALSE(ft::file_exists(out / f)) << f;
}

std::vector<std::string> split_tabs(const std::string& line) {
  std::vector<std::string> out(1);
  for (char c : line) {
    if (c == '\t') out.emplace_back();
    else out.back() += c;
  }
  return out;
}

int run(const std::string& args) { return std::system((std::string(FT_BINARY) + " " + args + " > /dev/null 2>&1").c_str()); }

TEST(TrainingCli, LoraRunThenEvalMergeAndPredictAgree) {
  SyntheticTask task;
  TempDir out("cli_lora");
  const std::string common = " --model " + task.model + " --threads 1";
  ASSERT_EQ(run("train" + common + " --random-init --method lora --train-file " + task.train + " --eval-file " + task.eval +
                " --output-dir " + out.path + " --learning-rate 5e-3 --num-train-epochs 6 --per-device-train-batch-size 16" +
                " --lora-target-modules query,value,intermediate.dense --warmup-ratio 0.1"),
            0);
  const auto results = ft::read_json(out / "results.json");
  const double acc = results["eval"]["final"]["accuracy"];
  EXPECT_GE(acc, 0.9);
  // The base weights were random: save them so eval/merge can rebuild the same base model.
  // (With --random-init the seed fixes them, so a second random init with the same seed is identical.)
  TempDir ev("cli_eval");
  ASSERT_EQ(run("eval" + common + " --random-init --adapter " + out.path + " --data " + task.eval + " --output-dir " + ev.path), 0);
  EXPECT_DOUBLE_EQ(ft::read_json(ev / "eval_results.json")["accuracy"].get<double>(), acc);

  // Merged into the base, the adapter's model predicts the same as base + adapter.
  TempDir merged("cli_merged"), ev2("cli_eval2");
  ASSERT_EQ(run("merge --model " + task.model + " --random-init --adapter " + out.path + " --output-dir " + merged.path), 0);
  EXPECT_TRUE(ft::file_exists(merged / "model.safetensors"));
  ASSERT_EQ(run("eval --model " + merged.path + " --data " + task.eval + " --output-dir " + ev2.path + " --threads 1"), 0);
  EXPECT_EQ(ft::read_file(ev2 / "predictions.tsv").size(), ft::read_file(ev / "predictions.tsv").size());
  const auto p_adapter = ft::data::read_lines(ev / "predictions.tsv");
  const auto p_merged = ft::data::read_lines(ev2 / "predictions.tsv");
  ASSERT_EQ(p_adapter.size(), p_merged.size());
  EXPECT_EQ(p_adapter[0], "id\tlabel\tprediction\tprobability\tlabel_probability");
  for (size_t i = 1; i < p_adapter.size(); ++i) {
    const auto a = split_tabs(p_adapter[i]), m = split_tabs(p_merged[i]);
    ASSERT_EQ(a.size(), 5u);
    ASSERT_EQ(m.size(), 5u);
    for (size_t f = 0; f < 3; ++f) EXPECT_EQ(a[f], m[f]) << "row " << i;  // id, label, prediction
    for (size_t f = 3; f < 5; ++f) EXPECT_NEAR(std::stod(a[f]), std::stod(m[f]), 1e-4) << "row " << i;
    // The true label's probability is the predicted one's when the prediction is right, else the rest (2 labels).
    EXPECT_NEAR(std::stod(a[4]), a[1] == a[2] ? std::stod(a[3]) : 1 - std::stod(a[3]), 1e-5) << "row " << i;
  }

  // predict --json on the merged model: one object per line, in input order.
  const std::string texts = out / "texts.txt", json_out = out / "pred.jsonl";
  ft::write_file_atomic(texts, std::string("w1 w2 good w3 w4 w5 w6\nw3 w4 w5 w6 w7 w8 w9\n"));
  ASSERT_EQ(std::system((std::string(FT_BINARY) + " predict --model " + merged.path + " --input " + texts +
                         " --json --threads 1 > " + json_out).c_str()), 0);
  const auto lines = ft::data::read_lines(json_out);
  ASSERT_EQ(lines.size(), 2u);
  const auto first = nlohmann::json::parse(lines[0]), second = nlohmann::json::parse(lines[1]);
  EXPECT_EQ(first["probabilities"].size(), 2u);
  EXPECT_NEAR(first["probabilities"][0].get<double>() + first["probabilities"][1].get<double>(), 1.0, 1e-6);
  EXPECT_GT(first["probabilities"][1].get<double>(), 0.5);   // contains "good"
  EXPECT_LT(second["probabilities"][1].get<double>(), 0.5);
}

TEST(TrainingCli, BadInputFailsWithOneClearLine) {
  SyntheticTask task;
  TempDir out("cli_bad");
  const std::string log = out / "log.txt";
  auto run_logged = [&](const std::string& args) {
    return std::system((std::string(FT_BINARY) + " " + args + " > " + log + " 2>&1").c_str());
  };
  const std::string run = out / "run";
  EXPECT_NE(run_logged("train --model " + task.model + " --random-init --train-file " + out.path + "/missing.tsv --output-dir " + run), 0);
  EXPECT_NE(ft::read_file(log).find("missing.tsv"), std::string::npos) << ft::read_file(log);
  EXPECT_NE(run_logged("train --model " + task.model + " --random-init --train-file " + task.train + " --output-dir " + run + " --fp16 --device cpu"), 0);
  EXPECT_NE(ft::read_file(log).find("--fp16"), std::string::npos) << ft::read_file(log);
  EXPECT_FALSE(ft::file_exists(run + "/results.json"));
}

TEST(Validation, SplitSelectsEarlyStopsAsHFAndLeavesTheTestSetToTheEnd) {
  SyntheticTask task;
  TempDir out("validation");
  ft::train::RunSpec spec = task.spec(out.path, "full");
  spec.validation_split = 0.25;
  spec.args.num_train_epochs = 0;
  spec.args.max_steps = 60;
  spec.args.learning_rate = 2e-2;  // noisy on purpose: some evaluations do not improve
  spec.args.evaluation_strategy = "steps";
  spec.args.eval_steps = 3;
  spec.args.load_best_model_at_end = true;
  spec.args.early_stopping_patience = 2;
  const nlohmann::json r = ft::train::run_training(spec);

  EXPECT_EQ(r["data"]["train"]["examples"], 600);  // 800 − 25%, stratified: 100 of each label held out
  EXPECT_EQ(r["data"]["validation"]["examples"], 200);
  EXPECT_EQ(r["data"]["test"]["examples"], 200);
  EXPECT_EQ(r["data"]["selection_set"], "validation");
  EXPECT_FALSE(r["data"]["test_used_for_selection"].get<bool>());
  EXPECT_EQ(r["generalization_gap_set"], "validation");
  EXPECT_DOUBLE_EQ(r["generalization_gap"].get<double>(),
                   r["validation"]["final"]["loss"].get<double>() - r["train"]["final_loss"].get<double>());

  // HF's EarlyStoppingCallback rule, replayed over the logged validation losses: the run must stop at
  // the first evaluation where the patience runs out, or run to max_steps when it never does.
  const nlohmann::json state = ft::read_json(out / "trainer_state.json");
  double best = 0;
  int counter = 0;
  bool first = true;
  int64_t expected_stop = 60, evals = 0;
  for (const auto& e : state["log_history"]) {
    if (!e.contains("eval_loss")) continue;
    ++evals;
    const double loss = e["eval_loss"];
    counter = first || loss < best ? 0 : counter + 1;
    if (first || loss < best) best = loss;
    first = false;
    if (counter >= 2) {
      expected_stop = e["step"];
      break;
    }
  }
  EXPECT_EQ(r["train"]["steps"].get<int64_t>(), expected_stop);
  EXPECT_EQ(r["train"]["stopped_early"].get<bool>(), expected_stop < 60);
  EXPECT_LT(expected_stop, 60) << "the noisy run was expected to stop early; the rule was not exercised";
  EXPECT_GE(evals, 3);
  // The best validation model was kept, and the test set scored it once at the end.
  EXPECT_DOUBLE_EQ(r["validation"]["final"]["loss"].get<double>(), best);
  EXPECT_EQ(r["eval"]["final"]["n"], 200);
  EXPECT_FALSE(r["eval"].contains("best"));
  EXPECT_EQ(ft::data::read_lines(out / "predictions.tsv").size(), 201u);

  // A threshold no improvement can pass: every evaluation after the first counts, so it stops at the third.
  TempDir out2("validation_threshold");
  spec.args.output_dir = out2.path;
  spec.args.early_stopping_threshold = 100;
  const nlohmann::json r2 = ft::train::run_training(spec);
  EXPECT_EQ(r2["train"]["steps"], 9);
  EXPECT_TRUE(r2["train"]["stopped_early"].get<bool>());

  // A split and a file at once, or a fraction outside (0, 1), is refused before any training.
  spec.validation_file = task.eval;
  EXPECT_THROW(ft::train::run_training(spec), ft::Error);
  spec.validation_file.clear();
  spec.validation_split = 1.5;
  EXPECT_THROW(ft::train::run_training(spec), ft::Error);
  spec.validation_split = 0.25;
  spec.args.load_best_model_at_end = false;  // HF requires it for early stopping
  EXPECT_THROW(ft::train::run_training(spec), ft::Error);
}

// With a validation set the test file is read and checked before the first step (a bad one costs
// seconds, not the training), yet nothing in training depends on it: another test file gives the
// same steps, checkpoints and weights bit for bit.
TEST(Validation, TestFileIsCheckedFirstAndNeverUsedInTraining) {
  SyntheticTask task;
  TempDir out("validation_test_file");
  const std::string bad = out / "bad_test.tsv";
  ft::write_file_atomic(bad, ft::read_file(task.eval) + "not-a-row-with-three-columns\n");
  ft::train::RunSpec spec = task.spec(out / "bad", "full");
  spec.validation_split = 0.25;
  spec.args.num_train_epochs = 1;
  spec.args.save_strategy = "steps";
  spec.args.save_steps = 1;
  spec.eval_file = bad;
  EXPECT_THROW(ft::train::run_training(spec), ft::Error);
  EXPECT_TRUE(ft::list_dir(out / "bad").size() <= 1) << "only the run marker may exist";  // no checkpoint, no model

  spec.args.save_strategy = "no";
  spec.eval_file = task.eval;
  spec.args.output_dir = out / "a";
  const nlohmann::json a = ft::train::run_training(spec);
  spec.eval_file = task.train;  // another test set entirely
  spec.args.output_dir = out / "b";
  const nlohmann::json b = ft::train::run_training(spec);
  for (const char* split : {"best", "final"})  // all but the timings
    for (const char* metric : {"loss", "accuracy", "confusion"})
      EXPECT_EQ(a["validation"][split].at(metric), b["validation"][split].at(metric)) << split << " " << metric;
  EXPECT_EQ(a["validation"]["best"].at("step"), b["validation"]["best"].at("step"));
  EXPECT_EQ(a["train"]["final_loss"], b["train"]["final_loss"]);
  EXPECT_EQ(ft::read_file(out / "a/model.safetensors"), ft::read_file(out / "b/model.safetensors"));
  EXPECT_EQ(a["data"]["test"]["examples"], 200);
  EXPECT_EQ(b["data"]["test"]["examples"], 800);
}

}  // namespace
