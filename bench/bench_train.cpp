// Training and evaluation throughput at a real model shape on real reviews, with this machine's fp32
// matmul rate measured in the same process as the ceiling.
//
//   bench_train --config DIR --data ratings_train.txt --arm full|lora|eval [--steps 8] [--warmup 1]
//               [--threads 0] [--device cpu|cuda] [--precision fp32|fp16|bf16] [--nproc-per-node 1]
//               [--one-rank-group 0|1]
//
// --nproc-per-node N (training arms) runs N data-parallel ranks (Gloo on the CPU, NCCL on CUDA) with
// the same global batch, each rank 1/N of it, and reports the ranks' summed throughput, each rank's
// peak memory and the bytes each rank all-reduced per optimizer step (bench/data_parallel.sh).
// --one-rank-group 1 trains in a process group of one rank (NCCL on CUDA, Gloo on the CPU): the same
// work as without it plus the gradient all-reduce, so the difference is what the collective costs
// a step (bench/gpu.sh, on a single GPU, where NCCL cannot run two ranks).
//
// Warm-up steps (a pass over the evaluation set for eval) run first, untimed; then the timed steps,
// with a fresh optimizer, from the start of the same data.
// The model is built from DIR/config.json with random weights (the speed of a step does not depend on
// the values). Each arm should run in its own process so that its peak RSS is its own:
// bench/run.sh runs all three and prints one table.
#include <chrono>
#include <cstdio>
#include <exception>
#include <string>

#include "core/blas_kernel.h"
#include "core/error.h"
#include "core/machine.h"
#include "core/resources.h"
#include "core/runtime.h"
#include "data/dataset.h"
#include "distributed/group.h"
#include "distributed/launch.h"
#include "io/model_loader.h"
#include "model/spec.h"
#include "text/tokenizer.h"
#include "train/run.h"
#include "train/trainer.h"

int main(int argc, char** argv) {
  ft::ensure_best_blas_kernel(argv);
  std::string config_dir, data, arm = "full", device = "cpu", precision = "fp32";
  int64_t steps = 8, warmup = 1;
  int threads = 0, nproc = 1;
  bool one_rank_group = false;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string k = argv[i], v = argv[i + 1];
    if (k == "--config") config_dir = v;
    else if (k == "--data") data = v;
    else if (k == "--arm") arm = v;
    else if (k == "--steps") steps = std::stoll(v);
    else if (k == "--warmup") warmup = std::stoll(v);
    else if (k == "--threads") threads = std::stoi(v);
    else if (k == "--device") device = v;
    else if (k == "--precision") precision = v;
    else if (k == "--nproc-per-node") nproc = std::stoi(v);
    else if (k == "--one-rank-group") one_rank_group = v == "1";
  }
  if (config_dir.empty() || data.empty()) {
    std::fprintf(stderr,
                 "usage: %s --config DIR --data FILE.tsv --arm full|lora|eval [--steps N] [--warmup N] [--threads N] "
                 "[--device cpu|cuda] [--precision fp32|fp16|bf16] [--nproc-per-node N] [--one-rank-group 0|1]\n",
                 argv[0]);
    return 2;
  }
  try {
    if ((nproc > 1 || one_rank_group) && arm == "eval")
      throw ft::Error("--nproc-per-node and --one-rank-group measure training; use them with --arm full or lora");
    if (nproc > 1 && !ft::distributed::launch_env().launched()) {
      ft::distributed::launch_local_workers(nproc);
      return 0;
    }
    ft::set_threads(threads);
    auto group = ft::distributed::join_from_env(device, 600);
    if (one_rank_group && !group) {
      ft::distributed::LaunchEnv alone;
      alone.master_port = ft::distributed::free_port();
      group = std::make_unique<ft::distributed::Group>(alone, device, std::chrono::seconds(600));
    }
    const int world = group ? group->world_size() : 1;
    const nlohmann::json machine = ft::machine_facts();
    // The ceiling for this arm's precision: bf16's product only when the arm trains in bf16.
    const nlohmann::json matmul =
        device.rfind("cpu", 0) == 0 ? ft::measure_matmul(machine, 1.0, precision == "bf16") : nlohmann::json();
    const double gflops = matmul.is_null() ? 0.0 : matmul["fp32_gflops"].get<double>();
    const auto tok = ft::text::Tokenizer::from_dir(config_dir);
    const int64_t global_batch = arm == "eval" ? 64 : 32, batch = global_batch / world;  // per rank
    // The timed steps' batches, from the first reviews of the file (real length mix).
    ft::data::DatasetOptions opts;
    opts.max_samples = std::max(steps, warmup) * global_batch;
    const auto ds = ft::data::load_dataset(data, opts);
    ft::train::Examples ex;
    for (const auto& e : ds.examples) {
      ex.ids.push_back(e.id);
      ex.sequences.push_back(tok.encode(e.text, 128));
      ex.labels.push_back(e.label);
    }
    ft::model::ModelSpec spec;
    spec.dir = config_dir;
    spec.random_init = true;
    spec.method = arm == "lora" ? "lora" : "full";
    auto model = ft::io::build_model(spec);
    model->to(torch::Device(device));

    double seconds = 0;
    int64_t samples = 0, tokens = 0, allreduce_bytes = 0;
    double allreduce_seconds = 0;
    if (arm == "eval") {
      ft::train::evaluate(*model, ex, batch, device, precision);  // warm-up pass
      ft::reset_cuda_peak_stats();
      ft::Stopwatch clock;
      ft::train::evaluate(*model, ex, batch, device, precision);
      seconds = clock.seconds();
      samples = static_cast<int64_t>(ex.size());
      for (const auto& s : ex.sequences) tokens += static_cast<int64_t>(s.size());
    } else {
      ft::train::TrainingArguments args;
      args.per_device_train_batch_size = batch;
      args.learning_rate = arm == "lora" ? 2e-4 : 2e-5;
      args.evaluation_strategy = "no";
      args.logging_steps = 1000000;
      args.fp16 = precision == "fp16";
      args.bf16 = precision == "bf16";
      auto train = [&](int64_t max_steps) {
        args.max_steps = max_steps;
        ft::train::Trainer trainer(model, args, device);
        trainer.group = group.get();
        return trainer.train(ex, nullptr);  // ends with a sync: all work counted
      };
      train(warmup);
      ft::reset_cuda_peak_stats();
      const auto out = train(steps);
      seconds = out.train_runtime_s;
      samples = out.train_samples;
      tokens = out.train_real_tokens;
      allreduce_bytes = out.allreduce_bytes_per_step;
      allreduce_seconds = out.allreduce_seconds;
    }
    // The ranks' sums (one process: its own figures), then what this arm is.
    nlohmann::json r = ft::train::rank_statistics(group.get(), samples, tokens, seconds, allreduce_bytes, allreduce_seconds);
    if (group && group->rank() != 0) return 0;
    r["real_tokens_per_second"] = r["real_tokens"].get<double>() / seconds;
    r["arm"] = arm;
    r["device"] = device;
    r["precision"] = precision;
    r["threads"] = ft::num_threads();  // per rank
    r["matmul_gflops"] = gflops;
    r["matmul"] = matmul;
    r["machine"] = machine;
    r["seconds"] = seconds;
    r["global_batch"] = global_batch;
    r["steps"] = steps;
    r["peak_rss_bytes"] = ft::peak_rss_bytes();
    r["cuda_peak_allocated_bytes"] = ft::cuda_peak_allocated_bytes();
    std::printf("%s\n", r.dump().c_str());
  } catch (const std::exception& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
  return 0;
}
