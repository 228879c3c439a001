#include "distributed/group.h"

#include <torch/version.h>

// c10d's backend headers compile only with their USE_C10D_* switch; Gloo's also need the gloo
// headers (Debian: libgloo-dev), NCCL's a CUDA libtorch and <nccl.h> (which pip's torch/include
// lacks: CMakeLists.txt adds the nvidia-nccl wheel's include directory when it finds one).
#if __has_include(<gloo/algorithm.h>)
#ifndef USE_C10D_GLOO
#define USE_C10D_GLOO 1
#endif
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#define FT_HAVE_GLOO 1
#endif
#if defined(FT_WITH_CUDA) && __has_include(<torch/csrc/distributed/c10d/ProcessGroupNCCL.hpp>) && \
    __has_include(<nccl.h>)
#ifndef USE_C10D_NCCL
#define USE_C10D_NCCL 1
#endif
#include <torch/csrc/distributed/c10d/ProcessGroupNCCL.hpp>
#define FT_HAVE_NCCL 1
// Since 2.4, ~ProcessGroupNCCL warns and aborts the communicators unless shutdown() ran first.
#if TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 4)
#define FT_NCCL_SHUTDOWN 1
#endif
#endif
#include <torch/csrc/distributed/c10d/TCPStore.hpp>
// The collectives' base class (see Collectives below), for a build that has neither backend.
#if TORCH_VERSION_MAJOR >= 2
#include <torch/csrc/distributed/c10d/Backend.hpp>
#else
#include <torch/csrc/distributed/c10d/ProcessGroup.hpp>
#endif

#include <c10/util/Exception.h>

#include <cstdlib>
#include <exception>

#include "core/error.h"
#include "core/resources.h"
#include "core/runtime.h"

namespace ft::distributed {
namespace {

// Gloo and NCCL became c10d::Backends under a dispatching ProcessGroup in PyTorch 2.0.
#if TORCH_VERSION_MAJOR >= 2
using Collectives = c10d::Backend;
#else
using Collectives = c10d::ProcessGroup;
#endif

int env_int(const char* name, int fallback, bool required) {
  const char* v = std::getenv(name);
  if (!v || !*v) {
    if (required) throw Error(std::string(name) + " is not set (a distributed launch sets RANK, WORLD_SIZE, MASTER_ADDR, MASTER_PORT)");
    return fallback;
  }
  char* end = nullptr;
  const long x = std::strtol(v, &end, 10);
  if (*end != '\0' || x < 0 || x > 1 << 20) throw Error(std::string(name) + "='" + v + "' is not a non-negative integer");
  return static_cast<int>(x);
}

// The first line of a collective's error (c10's carry a C++ backtrace after it).
std::string first_line(const std::exception& e) {
  const auto* c10 = dynamic_cast<const c10::Error*>(&e);
  const std::string what = c10 ? c10->what_without_backtrace() : e.what();
  return what.substr(0, what.find('\n'));
}

}  // namespace

LaunchEnv launch_env() {
  LaunchEnv env;
  env.world_size = env_int("WORLD_SIZE", 1, false);
  if (env.world_size <= 1) return env;
  env.rank = env_int("RANK", 0, true);
  env.local_rank = env_int("LOCAL_RANK", env.rank, false);
  env.master_port = env_int("MASTER_PORT", 0, true);
  const char* addr = std::getenv("MASTER_ADDR");
  if (!addr || !*addr) throw Error("MASTER_ADDR is not set (a distributed launch sets RANK, WORLD_SIZE, MASTER_ADDR, MASTER_PORT)");
  env.master_addr = addr;
  if (env.rank >= env.world_size)
    throw Error("RANK=" + std::to_string(env.rank) + " is not below WORLD_SIZE=" + std::to_string(env.world_size));
  if (env.master_port == 0 || env.master_port > 65535) throw Error("MASTER_PORT=" + std::to_string(env.master_port) + " is not a port");
  return env;
}

struct Group::Impl {
  c10::intrusive_ptr<Collectives> pg;
  struct InFlight {
    c10::intrusive_ptr<c10d::Work> work;
    torch::Tensor sent, target;  // the same tensor unless staged through the GPU
  };
  std::vector<InFlight> in_flight;
  // NCCL reduces only GPU tensors: host ones (evaluation results, statistics) travel through it.
  c10::optional<torch::Device> staging;
  bool failed = false;  // a collective threw: the group cannot be shut down cleanly
#ifdef FT_NCCL_SHUTDOWN
  c10::intrusive_ptr<c10d::ProcessGroupNCCL> nccl;
#endif
};

Group::Group(const LaunchEnv& env, const std::string& device, std::chrono::seconds timeout)
    : impl_(std::make_unique<Impl>()), rank_(env.rank), world_(env.world_size), timeout_(timeout) {
  const bool cuda = device.rfind("cuda", 0) == 0;
  backend_ = cuda ? "nccl" : "gloo";
  const std::string where = "rank " + std::to_string(rank_) + " of " + std::to_string(world_);
  try {
    c10d::TCPStoreOptions opts;
    opts.port = static_cast<std::uint16_t>(env.master_port);
    opts.isServer = env.rank == 0;
    opts.numWorkers = static_cast<size_t>(env.world_size);
    opts.waitWorkers = true;
    opts.timeout = timeout;
    auto store = c10::make_intrusive<c10d::TCPStore>(env.master_addr, opts);
    if (cuda) {
#ifdef FT_HAVE_NCCL
      impl_->staging = torch::Device(device);
      auto o = c10d::ProcessGroupNCCL::Options::create();
      o->timeout = timeout;
      auto nccl = c10::make_intrusive<c10d::ProcessGroupNCCL>(store, env.rank, env.world_size, o);
#ifdef FT_NCCL_SHUTDOWN
      impl_->nccl = nccl;
#endif
      impl_->pg = std::move(nccl);
#else
      throw Error("this build has no NCCL (build against a CUDA libtorch for data-parallel training on GPUs)");
#endif
    } else {
#ifdef FT_HAVE_GLOO
      auto o = c10d::ProcessGroupGloo::Options::create(timeout);
      // As torch.distributed picks it: GLOO_SOCKET_IFNAME, else loopback for a local run, else the
      // address this machine's hostname resolves to.
      const char* ifname = std::getenv("GLOO_SOCKET_IFNAME");
      const bool local = env.master_addr == "localhost" || env.master_addr.rfind("127.", 0) == 0;
      o->devices.push_back(ifname && *ifname ? c10d::ProcessGroupGloo::createDeviceForInterface(ifname)
                           : local           ? c10d::ProcessGroupGloo::createDeviceForHostname("127.0.0.1")
                                             : c10d::ProcessGroupGloo::createDefaultDevice());
      impl_->pg = c10::make_intrusive<c10d::ProcessGroupGloo>(store, env.rank, env.world_size, o);
#else
      throw Error("this build has no Gloo (install the gloo headers, Debian's libgloo-dev, and rebuild)");
#endif
    }
  } catch (const Error&) {
    throw;
  } catch (const std::exception& e) {
    throw Error(where + ": rendezvous at " + env.master_addr + ":" + std::to_string(env.master_port) +
                " failed within --ddp-timeout " + std::to_string(timeout.count()) + " s: " + first_line(e));
  }
}

Group::~Group() {
#ifdef FT_NCCL_SHUTDOWN
  if (!impl_->nccl) return;
  // shutdown() waits for this rank's collectives: only when none is pending or failed (else abort).
  try {
    if (impl_->failed || !impl_->in_flight.empty() || std::uncaught_exceptions() > 0) impl_->nccl->abort();
    else impl_->nccl->shutdown();
  } catch (const std::exception&) {
  }
#endif
}

void Group::all_reduce_sum(std::vector<torch::Tensor>& tensors) {
  for (const torch::Tensor& t : tensors) start_sum(t);
  finish();
}

namespace {
[[noreturn]] void collective_failed(int rank, int world, std::chrono::seconds timeout, const std::exception& e) {
  throw Error("rank " + std::to_string(rank) + " of " + std::to_string(world) +
              ": all-reduce failed (another rank stopped, or none answered within --ddp-timeout " +
              std::to_string(timeout.count()) + " s): " + first_line(e));
}
}  // namespace

void Group::start_sum(const torch::Tensor& t) {
  try {
    const bool stage = impl_->staging && t.device().is_cpu();
    std::vector<at::Tensor> one{stage ? t.to(*impl_->staging) : t};
    impl_->in_flight.push_back({impl_->pg->allreduce(one), one[0], t});
  } catch (const std::exception& e) {
    impl_->in_flight.clear();
    impl_->failed = true;
    collective_failed(rank_, world_, timeout_, e);
  }
}

void Group::finish() {
  std::vector<Impl::InFlight> all;
  all.swap(impl_->in_flight);
  try {
    for (auto& f : all) {
      f.work->wait();
      if (!f.sent.is_same(f.target)) f.target.copy_(f.sent);
    }
  } catch (const std::exception& e) {
    impl_->failed = true;
    collective_failed(rank_, world_, timeout_, e);
  }
}

std::vector<std::vector<double>> Group::all_gather(const std::vector<double>& mine) {
  // Each rank fills its own row of zeros; the sum is every row, exactly (x + 0 = x).
  const int64_t k = static_cast<int64_t>(mine.size());
  std::vector<torch::Tensor> rows{torch::zeros({world_, k}, torch::kDouble)};
  rows[0][rank_].copy_(torch::tensor(mine, torch::kDouble));
  all_reduce_sum(rows);
  std::vector<std::vector<double>> out(static_cast<size_t>(world_));
  const double* v = rows[0].data_ptr<double>();
  for (int r = 0; r < world_; ++r) out[static_cast<size_t>(r)].assign(v + r * k, v + (r + 1) * k);
  return out;
}

std::unique_ptr<Group> join_from_env(std::string& device, int64_t timeout_s) {
  const LaunchEnv env = launch_env();
  if (!env.launched()) return nullptr;
  if (device.rfind("cuda", 0) == 0) {
    device = "cuda:" + std::to_string(env.local_rank);
    set_current_device(device);
  }
  return std::make_unique<Group>(env, device, std::chrono::seconds(timeout_s));
}

std::vector<size_t> rank_share(const std::vector<size_t>& global_batch, int rank, int world) {
  std::vector<size_t> mine;
  for (size_t i = static_cast<size_t>(rank); i < global_batch.size(); i += static_cast<size_t>(world)) mine.push_back(global_batch[i]);
  return mine;
}

GradientSync::GradientSync(Group& group, const std::vector<torch::Tensor>& params, int64_t bucket_bytes)
    : group_(group), params_(params), bucket_of_(params.size()), offset_of_(params.size()) {
  int64_t filled = bucket_bytes;
  for (size_t k = params_.size(); k-- > 0;) {
    const int64_t bytes = params_[k].numel() * static_cast<int64_t>(params_[k].element_size());
    const bool same_kind = !buckets_.empty() && params_[buckets_.back().front()].dtype() == params_[k].dtype();
    if (!same_kind || filled + bytes > bucket_bytes) {
      buckets_.emplace_back();
      filled = 0;
    }
    bucket_of_[k] = buckets_.size() - 1;
    offset_of_[k] = filled / static_cast<int64_t>(params_[k].element_size());
    buckets_.back().push_back(k);
    filled += bytes;
  }
  for (size_t i = 0; i < params_.size(); ++i)
    hooks_.push_back(params_[i].register_hook([this, i](const torch::Tensor& g) {
      if (!armed_) return;
      fill(i, g);
      if (--missing_[bucket_of_[i]] == 0) start_complete_buckets();
    }));
}

GradientSync::~GradientSync() {
  for (size_t i = 0; i < params_.size(); ++i) params_[i].remove_hook(hooks_[i]);
}

void GradientSync::begin_step() {
  flat_.clear();
  missing_.clear();
  for (const auto& bucket : buckets_) {
    int64_t n = 0;
    for (size_t i : bucket) n += params_[i].numel();
    flat_.push_back(torch::empty({n}, params_[bucket.front()].options().requires_grad(false)));
    missing_.push_back(bucket.size());
  }
  filled_.assign(params_.size(), false);
  started_ = 0;
  in_step_ = true;
}

void GradientSync::overlap_next_backward() {
  if (!in_step_) begin_step();
  armed_ = true;
}

void GradientSync::fill(size_t i, const torch::Tensor& g) {
  torch::NoGradGuard no_grad;
  const torch::Tensor& p = params_[i];
  torch::Tensor slot = flat_[bucket_of_[i]].narrow(0, offset_of_[i], p.numel());
  if (!g.defined()) slot.copy_(p.grad().defined() ? p.grad().reshape({-1}) : torch::zeros_like(slot));
  else slot.copy_(p.grad().defined() ? (p.grad() + g).reshape({-1}) : g.reshape({-1}));
  filled_[i] = true;
}

void GradientSync::start_complete_buckets() {
  while (started_ < buckets_.size() && missing_[started_] == 0) group_.start_sum(flat_[started_++]);
}

void GradientSync::all_reduce(torch::Tensor& loss) {
  const Stopwatch clock;
  torch::NoGradGuard no_grad;
  if (!in_step_) begin_step();
  armed_ = false;
  // Whatever the backward did not deliver (no overlap asked, a parameter without a gradient in it,
  // an empty share of the batch) comes from .grad now; the buckets then start in order.
  for (size_t i = 0; i < params_.size(); ++i)
    if (!filled_[i]) {
      fill(i, torch::Tensor());
      --missing_[bucket_of_[i]];
    }
  start_complete_buckets();
  torch::Tensor total = loss.to(torch::kDouble).reshape({1});  // the step's loss travels with the gradients
  group_.start_sum(total);
  in_step_ = false;
  group_.finish();
  bytes_ = total.numel() * static_cast<int64_t>(total.element_size());
  for (size_t i = 0; i < params_.size(); ++i) {
    torch::Tensor& p = params_[i];
    const torch::Tensor summed = flat_[bucket_of_[i]].narrow(0, offset_of_[i], p.numel()).view_as(p);
    if (p.grad().defined()) p.mutable_grad().copy_(summed);
    else p.mutable_grad() = summed.clone();
  }
  for (const auto& f : flat_) bytes_ += f.numel() * static_cast<int64_t>(f.element_size());
  loss = total.reshape({});
  seconds_ += clock.seconds();
}

}  // namespace ft::distributed
