// Data-parallel training on c10d's Gloo: shares of the seeded order, the gradient all-reduce and the
// sharded evaluation in-process (ranks as threads), then 2-rank CLI runs against one process with the
// same global batch (torchrun's environment by hand, and --nproc-per-node), and a rank that dies.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <functional>
#include <random>
#include <set>
#include <thread>

#include "core/error.h"
#include "core/files.h"
#include "core/run_folder.h"
#include "data/batching.h"
#include "data/dataset.h"
#include "distributed/group.h"
#include "distributed/launch.h"
#include "io/model_loader.h"
#include "io/state_dict.h"
#include "model/spec.h"
#include "synthetic_task.h"
#include "test_util.h"
#include "train/trainer.h"

namespace {

using ft::testing::SyntheticTask;
using ft::testing::TempDir;
namespace dist = ft::distributed;

// Runs fn(group) on `world` threads, each rank of one Gloo group on localhost.
void on_ranks(int world, const std::function<void(dist::Group&)>& fn) {
  const int port = dist::free_port();
  std::vector<std::thread> threads;
  std::vector<std::string> errors(static_cast<size_t>(world));
  for (int r = 0; r < world; ++r)
    threads.emplace_back([&, r] {
      try {
        dist::LaunchEnv env;
        env.rank = r;
        env.local_rank = r;
        env.world_size = world;
        env.master_port = port;
        dist::Group group(env, "cpu", std::chrono::seconds(30));
        fn(group);
      } catch (const std::exception& e) {
        errors[static_cast<size_t>(r)] = e.what();
      }
    });
  for (auto& t : threads) t.join();
  for (int r = 0; r < world; ++r) EXPECT_EQ(errors[static_cast<size_t>(r)], "") << "rank " << r;
}

TEST(DataParallel, RankSharesCoverEveryExampleOnceAndMakeUpTheGlobalBatch) {
  std::vector<size_t> lengths(203);
  for (size_t i = 0; i < lengths.size(); ++i) lengths[i] = 3 + i % 17;
  for (int world : {2, 3}) {
    const auto batches = ft::data::epoch_batches(lengths, 8 * world, {true, false, 42}, 1);
    std::multiset<size_t> seen;
    for (const auto& batch : batches) {
      std::multiset<size_t> together;
      for (int r = 0; r < world; ++r) {
        const auto mine = dist::rank_share(batch, r, world);
        EXPECT_LE(mine.size(), 8u);
        together.insert(mine.begin(), mine.end());
      }
      EXPECT_EQ(together, std::multiset<size_t>(batch.begin(), batch.end()));  // the single-process batch
      seen.insert(together.begin(), together.end());
    }
    ASSERT_EQ(seen.size(), lengths.size()) << "world " << world;
    for (size_t i = 0; i < lengths.size(); ++i) EXPECT_EQ(seen.count(i), 1u) << "example " << i << ", world " << world;
  }
}

TEST(DataParallel, GradientSyncSumsGradientsAndLossInBuckets) {
  on_ranks(2, [](dist::Group& g) {
    const double r = g.rank();
    std::vector<torch::Tensor> params = {torch::zeros({3, 4}, torch::requires_grad()), torch::zeros({5}, torch::requires_grad()),
                                         torch::zeros({2}, torch::requires_grad())};
    params[0].mutable_grad() = torch::full({3, 4}, 1.0 + r);
    params[1].mutable_grad() = torch::arange(5, torch::kFloat) * (r + 1);
    if (r == 1) params[2].mutable_grad() = torch::ones({2});  // rank 0 has none: it counts as zeros
    dist::GradientSync sync(g, params, /*bucket_bytes=*/48);    // the 12 floats fill one bucket
    EXPECT_EQ(sync.buckets(), 2u);
    torch::Tensor loss = torch::tensor(0.25 * (r + 1), torch::kDouble);
    sync.all_reduce(loss);
    EXPECT_EQ(sync.bytes_per_step(), (12 + 5 + 2) * 4 + 8);
    EXPECT_DOUBLE_EQ(loss.item<double>(), 0.75);
    EXPECT_TRUE(params[0].grad().equal(torch::full({3, 4}, 3.0)));
    EXPECT_TRUE(params[1].grad().equal(torch::arange(5, torch::kFloat) * 3));
    EXPECT_TRUE(params[2].grad().equal(torch::ones({2})));
  });
}

TEST(DataParallel, GradientSyncOverlappingTheLastBackwardEqualsSummingAfterIt) {
  on_ranks(2, [](dist::Group& g) {
    const double r = g.rank();
    // Two identical parameter sets: one all-reduced from hooks during the step's last backward, one after it.
    auto make = [] {
      return std::vector<torch::Tensor>{(torch::arange(12, torch::kFloat).reshape({3, 4}) / 10).requires_grad_(),
                                        torch::zeros({3}, torch::requires_grad()), torch::ones({4}, torch::requires_grad())};
    };
    std::vector<torch::Tensor> overlapped = make(), after = make();
    dist::GradientSync sync_overlapped(g, overlapped, /*bucket_bytes=*/16), sync_after(g, after, 16);
    auto micro_batch = [&](const std::vector<torch::Tensor>& p, double scale) {
      const torch::Tensor x = torch::full({2, 4}, (r + 1) * scale) * p[2];
      return (torch::matmul(x, p[0].t()) + p[1]).pow(2).sum();
    };
    // Two accumulation micro-batches; only the second is the step's last.
    micro_batch(overlapped, 1).backward();
    sync_overlapped.overlap_next_backward();
    micro_batch(overlapped, 0.5).backward();
    micro_batch(after, 1).backward();
    micro_batch(after, 0.5).backward();
    torch::Tensor loss_a = torch::tensor(1.0, torch::kDouble), loss_b = torch::tensor(1.0, torch::kDouble);
    sync_overlapped.all_reduce(loss_a);
    sync_after.all_reduce(loss_b);
    EXPECT_GT(sync_overlapped.buckets(), 2u);
    EXPECT_EQ(sync_overlapped.bytes_per_step(), sync_after.bytes_per_step());
    EXPECT_DOUBLE_EQ(loss_a.item<double>(), 2.0);
    for (size_t i = 0; i < after.size(); ++i) EXPECT_TRUE(overlapped[i].grad().equal(after[i].grad())) << "parameter " << i;
  });
}

TEST(DataParallel, ShardedEvaluationEqualsOneProcessExactly) {
  SyntheticTask task;
  ft::model::ModelSpec spec;
  spec.dir = task.model;
  spec.random_init = true;
  ft::train::Examples ex;
  std::mt19937 rng(7);
  for (int i = 0; i < 150; ++i) {  // 150 examples, 5 batches of 32 (the last short): uneven shards
    std::vector<int64_t> seq = {0};
    for (int k = 0, n = 2 + static_cast<int>(rng() % 12); k < n; ++k) seq.push_back(5 + static_cast<int64_t>(rng() % 25));
    seq.push_back(2);
    ex.sequences.push_back(seq);
    ex.labels.push_back(i % 2);
    ex.ids.push_back(std::to_string(i));
  }
  at::set_num_threads(1);
  ft::model::Transformer reference = ft::io::build_model(spec);
  const ft::train::EvalResult one = ft::train::evaluate(*reference, ex, 32, "cpu", "fp32");
  // Built here, not on the rank threads, which would share the seeding generator.
  std::vector<ft::model::Transformer> models = {ft::io::build_model(spec), ft::io::build_model(spec)};
  std::vector<ft::train::EvalResult> got(2);
  on_ranks(2, [&](dist::Group& g) {
    const size_t r = static_cast<size_t>(g.rank());
    got[r] = ft::train::evaluate(*models[r], ex, 32, "cpu", "fp32", &g);
  });
  for (const auto& e : got) {
    EXPECT_EQ(e.loss, one.loss);
    EXPECT_TRUE(e.probs.equal(one.probs));
    EXPECT_EQ(e.predictions, one.predictions);
    EXPECT_EQ(e.metrics.accuracy, one.metrics.accuracy);
    EXPECT_EQ(e.metrics.f1, one.metrics.f1);
  }
}

// --- the CLI: ranks as processes ---

int run(const std::string& args) { return std::system((std::string(FT_BINARY) + " " + args + " > /dev/null 2>&1").c_str()); }

// Starts `finetune args` with extra environment variables, output in `log`; the pid is finetune's own.
pid_t spawn(const std::string& env, const std::string& args, const std::string& log) {
  const std::string cmd = "exec env " + env + " " + FT_BINARY + " " + args + " > " + log + " 2>&1";
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::execl("/bin/sh", "sh", "-c", cmd.c_str(), static_cast<char*>(nullptr));
    ::_exit(127);
  }
  return pid;
}

int wait_exit(pid_t pid) {
  int status = 0;
  ::waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

std::string rank_env(int rank, int port) {
  return "RANK=" + std::to_string(rank) + " LOCAL_RANK=" + std::to_string(rank) +
         " WORLD_SIZE=2 MASTER_ADDR=127.0.0.1 MASTER_PORT=" + std::to_string(port);
}

std::vector<std::string> names(const std::string& dir) {
  std::vector<std::string> out;
  for (const auto& p : ft::list_dir(dir)) out.push_back(p.substr(p.rfind('/') + 1));
  return out;
}

// A task without dropout, so that a run's numbers depend only on the data and the arithmetic.
void no_dropout(const SyntheticTask& task) {
  nlohmann::json cfg = ft::read_json(task.model + "/config.json");
  cfg["hidden_dropout_prob"] = 0.0;
  cfg["attention_probs_dropout_prob"] = 0.0;
  ft::write_json_atomic(task.model + "/config.json", cfg);
}

// The 2-rank run against the single-process one with the same global batch: per-step losses and final
// weights within 5e-6 of the largest weight, the same files (rank 0's), every example once per epoch, and what one
// step all-reduces: every trainable parameter (full) or only the adapter and the head (LoRA).
void expect_same_run(const std::string& ref, const std::string& dp, const std::string& weights, int64_t examples,
                     int epochs) {
  EXPECT_EQ(names(dp), names(ref));
  const auto r = ft::read_json(ref + "/results.json"), d = ft::read_json(dp + "/results.json");
  const int64_t steps = r["train"]["steps"];
  ASSERT_EQ(d["train"]["steps"].get<int64_t>(), steps);
  const std::string state = "/checkpoint-" + std::to_string(steps) + "/trainer_state.json";
  const auto lr = ft::read_json(ref + state)["losses"].get<std::vector<double>>();
  const auto ld = ft::read_json(dp + state)["losses"].get<std::vector<double>>();
  ASSERT_EQ(ld.size(), lr.size());
  for (size_t i = 0; i < lr.size(); ++i) EXPECT_NEAR(ld[i], lr[i], 1e-6 * std::abs(lr[i])) << "step " << i + 1;
  const auto wr = ft::io::read_safetensors(ref + "/" + weights), wd = ft::io::read_safetensors(dp + "/" + weights);
  ASSERT_EQ(wd.size(), wr.size());
  // Within 5e-6 of the model's largest weight: an element-wise relative bound would not hold for any
  // two fp32 runs whose sums are ordered differently, since AdamW turns gradients that are rounding
  // noise (the attention key bias's is exactly 0 in exact arithmetic) into learning-rate-sized steps.
  // How far that goes depends on the BLAS kernels' blocking: ≤ 1e-6 with OpenBLAS's SkylakeX and MKL,
  // 1.5e-6 with its Zen kernels (an AMD EPYC, the LoRA run's lora_B).
  double scale = 0;
  for (const auto& [name, t] : wr) scale = std::max(scale, t.abs().max().item<double>());
  for (const auto& [name, t] : wr) EXPECT_TRUE(ft::testing::all_close(wd.at(name), t, 5e-6 * scale, 0)) << name;
  // Predictions agree; the loss differs only by the weights' last bits.
  for (const char* m : {"accuracy", "f1", "precision", "recall"})
    EXPECT_EQ(d["eval"]["final"][m], r["eval"]["final"][m]) << m;
  EXPECT_NEAR(d["eval"]["final"]["loss"].get<double>(), r["eval"]["final"]["loss"].get<double>(), 1e-6);
  const auto& dd = d["distributed"];
  EXPECT_EQ(dd["world_size"], 2);
  EXPECT_EQ(dd["backend"], "gloo");
  ASSERT_EQ(dd["ranks"].size(), 2u);
  EXPECT_EQ(dd["ranks"][0]["samples"].get<int64_t>() + dd["ranks"][1]["samples"].get<int64_t>(), examples * epochs);
  EXPECT_EQ(d["train"]["samples"].get<int64_t>(), examples * epochs);
  EXPECT_EQ(dd["allreduce_bytes_per_step"].get<int64_t>(), d["parameters"]["trainable"].get<int64_t>() * 4 + 8);
  EXPECT_EQ(r["distributed"]["world_size"], 1);
}

TEST(DataParallelCli, TwoGlooRanksMatchOneProcessFullFineTuning) {
  SyntheticTask task;
  no_dropout(task);
  TempDir ref("dp_ref"), dp("dp_full"), other("dp_other"), logs("dp_logs");
  // 203 examples in global batches of 16: the 13th has 11, shared 6 + 5.
  const std::string common = "train --model " + task.model + " --random-init --method full --train-file " + task.train +
                             " --eval-file " + task.eval + " --max-train-samples 203 --learning-rate 2e-3 --num-train-epochs 2" +
                             " --warmup-ratio 0.1 --save-strategy epoch --logging-steps 5 --threads 1";
  ASSERT_EQ(run(common + " --per-device-train-batch-size 16 --output-dir " + ref.path), 0);
  const int port = dist::free_port();
  const std::string per_rank = common + " --per-device-train-batch-size 8 --ddp-timeout 60";
  const pid_t r0 = spawn(rank_env(0, port), per_rank + " --output-dir " + dp.path, logs / "rank0.log");
  // Rank 1 is pointed elsewhere: anything it wrote would show up there.
  const pid_t r1 = spawn(rank_env(1, port), per_rank + " --output-dir " + other.path, logs / "rank1.log");
  EXPECT_EQ(wait_exit(r1), 0) << ft::read_file(logs / "rank1.log");
  ASSERT_EQ(wait_exit(r0), 0) << ft::read_file(logs / "rank0.log");
  EXPECT_TRUE(names(other.path).empty());
  EXPECT_EQ(ft::read_file(logs / "rank1.log"), "");  // logs and the progress bar are rank 0's
  expect_same_run(ref.path, dp.path, "model.safetensors", 203, 2);
  const auto ranks = ft::read_json(dp / "results.json")["distributed"]["ranks"];
  EXPECT_EQ(ranks[0]["samples"], 2 * (12 * 8 + 6));
  EXPECT_EQ(ranks[1]["samples"], 2 * (12 * 8 + 5));
}

TEST(DataParallelCli, LoraWithAccumulationUnderNprocPerNodeMatchesOneProcess) {
  SyntheticTask task;
  no_dropout(task);
  TempDir ref("dp_lora_ref"), dp("dp_lora");
  const std::string common = "train --model " + task.model + " --random-init --method lora --lora-dropout 0" +
                             " --lora-target-modules query,value --train-file " + task.train + " --eval-file " + task.eval +
                             " --max-train-samples 203 --learning-rate 5e-3 --num-train-epochs 2 --gradient-accumulation-steps 2" +
                             " --save-strategy epoch --logging-steps 5 --threads 1";
  ASSERT_EQ(run(common + " --per-device-train-batch-size 16 --output-dir " + ref.path), 0);
  ASSERT_EQ(run(common + " --per-device-train-batch-size 8 --nproc-per-node 2 --ddp-timeout 60 --output-dir " + dp.path), 0);
  expect_same_run(ref.path, dp.path, "adapter_model.safetensors", 203, 2);
}

TEST(DataParallelCli, PretrainRanksAreReproducibleAndOnlyRankZeroWrites) {
  SyntheticTask task;
  TempDir first("dp_mlm"), second("dp_mlm_again"), other("dp_mlm_other"), logs("dp_mlm_logs");
  // The training reviews as a corpus, one a line.
  std::string corpus;
  const auto rows = ft::data::read_lines(task.train);
  for (size_t i = 1; i < rows.size(); ++i) corpus += rows[i].substr(rows[i].find('\t') + 1, rows[i].rfind('\t') - rows[i].find('\t') - 1) + "\n";
  ft::write_file_atomic(logs / "corpus.txt", corpus);
  const std::string args = "pretrain --model-config " + task.model + " --corpus " + logs / "corpus.txt" +
                           " --max-steps 12 --eval-lines 100 --max-length 32 --per-device-train-batch-size 8" +
                           " --eval-steps 6 --save-steps 6 --learning-rate 1e-2 --logging-steps 1 --threads 1 --ddp-timeout 60";
  const int port = dist::free_port();
  const pid_t r0 = spawn(rank_env(0, port), args + " --output-dir " + first.path, logs / "rank0.log");
  const pid_t r1 = spawn(rank_env(1, port), args + " --output-dir " + other.path, logs / "rank1.log");
  EXPECT_EQ(wait_exit(r1), 0) << ft::read_file(logs / "rank1.log");
  ASSERT_EQ(wait_exit(r0), 0) << ft::read_file(logs / "rank0.log");
  EXPECT_TRUE(names(other.path).empty());
  EXPECT_EQ(ft::read_file(logs / "rank1.log"), "");
  ASSERT_EQ(run(args + " --nproc-per-node 2 --output-dir " + second.path), 0);
  // The same seed, the same run: masks, data order and the summed gradients do not depend on timing.
  const auto a = ft::read_json(first / "trainer_state.json")["losses"], b = ft::read_json(second / "trainer_state.json")["losses"];
  EXPECT_EQ(a, b);
  EXPECT_EQ(a.size(), 12u);
  EXPECT_EQ(ft::read_file(first / "model.safetensors"), ft::read_file(second / "model.safetensors"));
  for (const auto& loss : a) EXPECT_TRUE(std::isfinite(loss.get<double>()));
  const auto r = ft::read_json(first / "pretrain_results.json");
  EXPECT_EQ(r["distributed"]["world_size"], 2);
  EXPECT_EQ(r["distributed"]["backend"], "gloo");
  EXPECT_GT(r["distributed"]["allreduce_bytes_per_step"].get<int64_t>(), 0);
  EXPECT_TRUE(ft::file_exists(first / "checkpoint/trainer_state.json"));
}

// The pids of `parent`'s children whose environment has `var`.
std::vector<pid_t> children_with(pid_t parent, const std::string& var) {
  std::vector<pid_t> out;
  for (const auto& p : ft::list_dir("/proc")) {
    const std::string name = p.substr(p.rfind('/') + 1);
    if (name.find_first_not_of("0123456789") != std::string::npos) continue;
    std::ifstream stat(p + "/stat");
    std::string pid, comm, state;
    pid_t ppid = 0;
    if (!(stat >> pid >> comm >> state >> ppid) || ppid != parent) continue;
    std::string env;
    try {
      env = ft::read_file(p + "/environ");
    } catch (const ft::Error&) {
      continue;  // exited meanwhile
    }
    const std::string nul(1, '\0');
    if ((nul + env).find(nul + var + nul) != std::string::npos) out.push_back(std::stoi(name));
  }
  return out;
}

bool wait_for_file(const std::string& path, int seconds) {
  for (int i = 0; i < seconds * 10; ++i) {
    if (ft::file_exists(path)) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return false;
}

// What a stopped run may leave: its ownership marker and complete checkpoint-N folders (a .tmp one
// is scratch, ignored by --resume and replaced by the next save), and nothing that marks a finished run.
void expect_only_complete_checkpoints(const std::string& dir) {
  for (const auto& name : names(dir)) {
    if (name.size() > 4 && name.compare(name.size() - 4, 4, ".tmp") == 0) continue;
    if (name == ft::kRunMarker) continue;  // the folder's ownership marker
    ASSERT_EQ(name.rfind("checkpoint-", 0), 0u) << name;
    EXPECT_TRUE(ft::file_exists(dir + "/" + name + "/trainer_state.json")) << name;
  }
}

// A full fine-tuning run that goes on until stopped, checkpointing every 10 steps.
std::string endless_run(const SyntheticTask& task, int timeout_s, const std::string& out) {
  return "train --model " + task.model + " --random-init --method full --train-file " + task.train +
         " --num-train-epochs 1000 --per-device-train-batch-size 8 --eval-strategy no --save-strategy steps" +
         " --save-steps 10 --threads 1 --ddp-timeout " + std::to_string(timeout_s) + " --output-dir " + out;
}

TEST(DataParallelCli, ARankThatDiesStopsTheOthersWithAClearError) {
  SyntheticTask task;
  TempDir out("dp_kill"), logs("dp_kill_logs");
  const int timeout_s = 20;
  const std::string args = endless_run(task, timeout_s, out.path);
  {  // Ranks started by hand, as torchrun starts them: rank 0 notices by itself.
    const int port = dist::free_port();
    const pid_t r0 = spawn(rank_env(0, port), args, logs / "rank0.log");
    const pid_t r1 = spawn(rank_env(1, port), args, logs / "rank1.log");
    ASSERT_TRUE(wait_for_file(out / "checkpoint-10/trainer_state.json", 120)) << ft::read_file(logs / "rank0.log");
    ::kill(r1, SIGKILL);
    wait_exit(r1);
    const auto t0 = std::chrono::steady_clock::now();
    EXPECT_EQ(wait_exit(r0), 1);
    EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(timeout_s + 10));
    const std::string log = ft::read_file(logs / "rank0.log");
    EXPECT_NE(log.find("error: rank 0 of 2: all-reduce failed (another rank stopped, or none answered within --ddp-timeout 20 s)"),
              std::string::npos) << log;
    expect_only_complete_checkpoints(out.path);
  }
  ft::remove_tree(out.path);
  {  // Under --nproc-per-node the launcher stops the rest and names the rank.
    const pid_t launcher = spawn("", args + " --nproc-per-node 2", logs / "launcher.log");
    ASSERT_TRUE(wait_for_file(out / "checkpoint-10/trainer_state.json", 120)) << ft::read_file(logs / "launcher.log");
    const auto rank1 = children_with(launcher, "RANK=1");
    ASSERT_EQ(rank1.size(), 1u);
    ::kill(rank1[0], SIGKILL);
    EXPECT_EQ(wait_exit(launcher), 1);
    const std::string log = ft::read_file(logs / "launcher.log");
    EXPECT_NE(log.find("error: rank 1 of 2 was killed by signal 9; stopped the other ranks"), std::string::npos) << log;
    expect_only_complete_checkpoints(out.path);
  }
}

// Each rank draws its dropout masks from its own generator, and the generators drift apart once the
// ranks' shares hold different numbers of tokens: a resumed rank must get its own state back.
TEST(DataParallelCli, TwoRanksResumeBitForBitFromACheckpoint) {
  SyntheticTask task;
  std::mt19937 rng(7);  // reviews of 1 to 12 words, so that the ranks' shares differ in tokens
  std::string tsv = "id\tdocument\tlabel\n";
  for (int i = 0; i < 240; ++i) {
    std::string text = i % 2 == 0 ? "good" : "w0";
    for (unsigned w = 0, n = rng() % 12; w < n; ++w) text += " w" + std::to_string(rng() % 24);
    tsv += std::to_string(i) + "\t" + text + "\t" + (i % 2 == 0 ? "1" : "0") + "\n";
  }
  ft::write_file_atomic(task.train, tsv);
  TempDir whole("dp_resume_whole"), resumed("dp_resume");
  const std::string common = "train --model " + task.model + " --random-init --method full --train-file " + task.train +
                             " --num-train-epochs 2 --per-device-train-batch-size 8 --eval-strategy no --save-strategy steps" +
                             " --save-steps 10 --logging-steps 1 --threads 1 --ddp-timeout 60 --nproc-per-node 2 --output-dir ";
  ASSERT_EQ(run(common + whole.path), 0);  // 240 reviews / 16 a step = 15 steps an epoch, 30 in all
  std::filesystem::copy(whole / "checkpoint-10", resumed / "checkpoint-10", std::filesystem::copy_options::recursive);
  std::filesystem::copy(whole / ft::kRunMarker, resumed / ft::kRunMarker);  // a folder of ours, or it is refused
  ASSERT_EQ(run(common + resumed.path + " --resume"), 0);
  const auto lw = ft::read_json(whole / "checkpoint-30/trainer_state.json")["losses"].get<std::vector<double>>();
  const auto lr = ft::read_json(resumed / "checkpoint-30/trainer_state.json")["losses"].get<std::vector<double>>();
  ASSERT_EQ(lw.size(), 30u);
  EXPECT_EQ(lr, lw);
  const auto ww = ft::io::read_safetensors(whole / "model.safetensors"), wr = ft::io::read_safetensors(resumed / "model.safetensors");
  ASSERT_EQ(wr.size(), ww.size());
  for (const auto& [name, t] : ww) EXPECT_TRUE(wr.at(name).equal(t)) << name;
}

// A rank that stops answering without dying (SIGSTOP: its sockets stay open, so no peer sees a
// closed connection) is noticed only by the collective's timeout, --ddp-timeout.
TEST(DataParallelCli, ARankThatHangsStopsTheOthersAfterTheTimeout) {
  SyntheticTask task;
  TempDir out("dp_hang"), logs("dp_hang_logs");
  const int timeout_s = 15;
  const std::string args = endless_run(task, timeout_s, out.path);
  {  // Ranks started by hand: rank 0 gives up after the timeout.
    const int port = dist::free_port();
    const pid_t r0 = spawn(rank_env(0, port), args, logs / "rank0.log");
    const pid_t r1 = spawn(rank_env(1, port), args, logs / "rank1.log");
    ASSERT_TRUE(wait_for_file(out / "checkpoint-10/trainer_state.json", 120)) << ft::read_file(logs / "rank0.log");
    ::kill(r1, SIGSTOP);
    const auto t0 = std::chrono::steady_clock::now();
    EXPECT_EQ(wait_exit(r0), 1);
    EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(timeout_s + 10));
    ::kill(r1, SIGKILL);
    wait_exit(r1);
    const std::string log = ft::read_file(logs / "rank0.log");
    EXPECT_NE(log.find("error: rank 0 of 2: all-reduce failed (another rank stopped, or none answered within --ddp-timeout 15 s)"),
              std::string::npos) << log;
    expect_only_complete_checkpoints(out.path);
  }
  ft::remove_tree(out.path);
  {  // Under --nproc-per-node the launcher then kills the hung rank too (SIGTERM waits while it is stopped).
    const pid_t launcher = spawn("", args + " --nproc-per-node 2", logs / "launcher.log");
    ASSERT_TRUE(wait_for_file(out / "checkpoint-10/trainer_state.json", 120)) << ft::read_file(logs / "launcher.log");
    const auto rank1 = children_with(launcher, "RANK=1");
    ASSERT_EQ(rank1.size(), 1u);
    ::kill(rank1[0], SIGSTOP);
    const auto t0 = std::chrono::steady_clock::now();
    EXPECT_EQ(wait_exit(launcher), 1);
    EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(timeout_s + 10 + 15));
    EXPECT_NE(::kill(rank1[0], 0), 0) << "the hung rank outlived the launcher";
    const std::string log = ft::read_file(logs / "launcher.log");
    EXPECT_NE(log.find("all-reduce failed (another rank stopped, or none answered within --ddp-timeout 15 s)"),
              std::string::npos) << log;
    EXPECT_NE(log.find("error: rank 0 of 2 exited with status 1; stopped the other ranks"), std::string::npos) << log;
    expect_only_complete_checkpoints(out.path);
  }
}

TEST(DataParallelCli, ARendezvousMissingARankTimesOutWithAClearError) {
  SyntheticTask task;
  TempDir out("dp_alone"), logs("dp_alone_logs");
  const int port = dist::free_port();
  const pid_t r0 = spawn(rank_env(0, port), "train --model " + task.model + " --random-init --train-file " + task.train +
                                                " --threads 1 --ddp-timeout 2 --output-dir " + out.path,
                         logs / "rank0.log");
  EXPECT_EQ(wait_exit(r0), 1);
  const std::string log = ft::read_file(logs / "rank0.log");
  EXPECT_NE(log.find("error: rank 0 of 2: rendezvous at 127.0.0.1:" + std::to_string(port) + " failed within --ddp-timeout 2 s"),
            std::string::npos) << log;
  EXPECT_TRUE(names(out.path).empty());
}

}  // namespace
