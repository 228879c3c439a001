// Data parallelism on PyTorch's own C++ collectives (c10d): the process group of a torchrun-style
// launch (Gloo on the CPU, NCCL on CUDA, rendezvous through c10d's TCPStore), which examples of a
// global batch each rank takes, and the bucketed gradient all-reduce of an optimizer step.
#pragma once
#include <torch/types.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace ft::distributed {

// torchrun's launch contract, read from the environment: RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR,
// MASTER_PORT (Slurm: RANK=$SLURM_PROCID, WORLD_SIZE=$SLURM_NTASKS, LOCAL_RANK=$SLURM_LOCALID).
struct LaunchEnv {
  int rank = 0, world_size = 1, local_rank = 0;
  std::string master_addr = "127.0.0.1";
  int master_port = 29500;
  bool launched() const { return world_size > 1; }
};
// Without WORLD_SIZE (or with 1): a single process. A malformed or missing variable → ft::Error naming it.
LaunchEnv launch_env();

class Group {
 public:
  // Joins the group: rank 0 serves the TCPStore on MASTER_ADDR:MASTER_PORT, every rank connects;
  // device "cpu" → Gloo, "cuda…" → NCCL (CUDA builds). The rendezvous and every collective fail
  // with an ft::Error after `timeout` (HF's ddp_timeout) instead of waiting forever.
  Group(const LaunchEnv& env, const std::string& device, std::chrono::seconds timeout);
  ~Group();
  Group(const Group&) = delete;
  Group& operator=(const Group&) = delete;

  int rank() const { return rank_; }
  int world_size() const { return world_; }
  const std::string& backend() const { return backend_; }

  // Sums each (dense, contiguous) tensor over the ranks, in place: all are started, then awaited,
  // so several buckets travel at once. A rank that died or timed out → ft::Error naming this rank.
  void all_reduce_sum(std::vector<torch::Tensor>& tensors);
  // The same in two halves: start_sum starts one (every rank must start the same tensors in the same
  // order), finish waits for all started and writes their sums into them.
  void start_sum(const torch::Tensor& t);
  void finish();
  // Every rank's `mine` (all of the same length), indexed by rank.
  std::vector<std::vector<double>> all_gather(const std::vector<double>& mine);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  int rank_, world_;
  std::string backend_;
  std::chrono::seconds timeout_;
};

// The group of a launched process (nullptr without one: WORLD_SIZE unset or 1). CUDA ranks use
// their LOCAL_RANK's GPU: `device` becomes "cuda:LOCAL_RANK".
std::unique_ptr<Group> join_from_env(std::string& device, int64_t timeout_s);

// The examples of one global batch (the single-process batch of per-device × world examples) that
// `rank` takes: positions rank, rank + world, … — DistributedSampler's stride over the seeded order.
// The last, short batch of an epoch is shared as it comes (never padded with repeated examples), so
// every example counts exactly once per epoch; a rank may get fewer examples, or none.
std::vector<size_t> rank_share(const std::vector<size_t>& global_batch, int rank, int world);

// Sums the gradients of the trainable parameters over the ranks at an optimizer step (never on an
// accumulation micro-step), in buckets of about `bucket_bytes` (DDP's default 25 MB) of one dtype,
// flattened so each bucket is one collective; as DDP, buckets run from the last parameters to the
// first, the order in which backward computes them. Each rank's loss must already be weighted by
// its share of the global batch, so the sum is the single-process mean's gradient.
class GradientSync {
 public:
  // Registers a gradient hook on each parameter (removed by the destructor).
  GradientSync(Group& group, const std::vector<torch::Tensor>& params, int64_t bucket_bytes = 25 << 20);
  ~GradientSync();
  GradientSync(const GradientSync&) = delete;
  GradientSync& operator=(const GradientSync&) = delete;
  // Call before the backward pass of a step's last micro-batch: during it, each bucket starts its
  // all-reduce once its last gradient is computed (buckets in order), overlapping the rest of the
  // backward. Without it, all_reduce starts every bucket itself.
  void overlap_next_backward();
  // Finishes the step: sums the gradients (a parameter without one counts as zeros) and `loss`
  // (this rank's share of the step's loss, a 0-dim tensor on the parameters' device) over the
  // ranks, in place.
  void all_reduce(torch::Tensor& loss);
  // What the last all_reduce handed to the collectives, per rank: gradient buckets plus the loss.
  int64_t bytes_per_step() const { return bytes_; }
  // Host seconds spent in all_reduce so far: what the step waits for after its backward (the rest
  // of the buckets, the collectives still running, copying back); the hooks' copies during the
  // backward are not in it. On CUDA the NCCL kernels are only enqueued: not their device time.
  double seconds() const { return seconds_; }
  size_t buckets() const { return buckets_.size(); }

 private:
  void begin_step();
  // Copies parameter i's gradient after this backward (its .grad so far + `g`) into its bucket.
  void fill(size_t i, const torch::Tensor& g);
  void start_complete_buckets();

  Group& group_;
  std::vector<torch::Tensor> params_;
  std::vector<std::vector<size_t>> buckets_;  // indices into params_
  std::vector<size_t> bucket_of_;             // per parameter
  std::vector<int64_t> offset_of_;            // per parameter, in its bucket
  std::vector<unsigned> hooks_;
  // This step's: the flat buckets, how many gradients each still lacks, which parameters are in,
  // how many buckets have started.
  std::vector<torch::Tensor> flat_;
  std::vector<size_t> missing_;
  std::vector<bool> filled_;
  size_t started_ = 0;
  bool armed_ = false, in_step_ = false;
  int64_t bytes_ = 0;
  double seconds_ = 0;
};

}  // namespace ft::distributed
