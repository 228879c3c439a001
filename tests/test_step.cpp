// The shared training step against libtorch's own pieces: the multi-tensor AdamW against
// torch::optim::AdamW (bit for bit), clipping against clip_grad_norm_, the device-side loss scaler
// against GradScaler's rules, the host-built packing against the mask, and a step that never waits
// for the device.
#include <ATen/record_function.h>
#include <gtest/gtest.h>
#include <torch/nn/utils/clip_grad.h>
#include <torch/optim/adamw.h>

#include <atomic>
#include <random>

#include "core/error.h"
#include "data/batching.h"
#include "model/transformer.h"
#include "test_util.h"
#include "train/optimizer.h"
#include "train/precision.h"
#include "train/step.h"

namespace {

using ft::testing::all_close;

// Parameters whose names decays() sorts into the two groups as HF's would be: weights decay, bias and
// LayerNorm do not (libtorch forbids dots in a parameter's own name).
struct Params : torch::nn::Module {
  Params() {
    register_parameter("dense_weight", torch::randn({6, 5}));
    register_parameter("dense_bias", torch::randn({6}));
    register_parameter("LayerNorm_weight", torch::randn({5}));
    register_parameter("out_weight", torch::randn({3, 6}));
    register_parameter("embeddings_weight", torch::randn({700, 600}));  // more than one piece on the CPU
  }
};

std::shared_ptr<Params> copy_of(const Params& src) {
  auto dst = std::make_shared<Params>();
  torch::NoGradGuard no_grad;
  for (auto& p : dst->named_parameters()) p.value().copy_(src.named_parameters()[p.key()]);
  return dst;
}

// The reference: torch::optim::AdamW over the same two groups as HF's Trainer makes.
std::unique_ptr<torch::optim::AdamW> reference_adamw(Params& m, const ft::train::AdamWSettings& s) {
  std::vector<torch::Tensor> decay, no_decay;
  for (auto& p : m.named_parameters()) (ft::train::decays(p.key()) ? decay : no_decay).push_back(p.value());
  auto opts = [&](double wd) {
    return std::make_unique<torch::optim::AdamWOptions>(
        torch::optim::AdamWOptions(s.learning_rate).betas({s.beta1, s.beta2}).eps(s.epsilon).weight_decay(wd));
  };
  std::vector<torch::optim::OptimizerParamGroup> groups;
  groups.emplace_back(decay, opts(s.weight_decay));
  groups.emplace_back(no_decay, opts(0.0));
  return std::make_unique<torch::optim::AdamW>(groups, torch::optim::AdamWOptions(s.learning_rate));
}

void set_grads(torch::nn::Module& m, uint64_t seed) {
  torch::manual_seed(seed);
  for (auto& p : m.parameters()) p.mutable_grad() = torch::randn_like(p);
}

void expect_same(torch::nn::Module& a, torch::nn::Module& b, int step) {
  auto pb = b.named_parameters();
  for (const auto& p : a.named_parameters())
    EXPECT_TRUE(p.value().equal(pb[p.key()])) << p.key() << " after step " << step << ": "
                                                << all_close(p.value(), pb[p.key()], 0, 0).message();
}

TEST(MultiTensorAdamW, EqualsTorchAdamWBitForBitOverTwentyScheduledSteps) {
  for (const double wd : {0.0, 0.01}) {
    torch::manual_seed(1);
    Params ours;
    auto theirs = copy_of(ours);
    ft::train::AdamWSettings s{1e-2, 0.9, 0.98, 1e-6, wd};
    ft::train::MultiTensorAdamW opt(ours, s);
    auto ref = reference_adamw(*theirs, s);
    EXPECT_EQ(opt.parameters().size(), 5u);
    for (int step = 0; step < 20; ++step) {
      const double lr = s.learning_rate * (step < 5 ? (step + 1) / 5.0 : (20 - step) / 15.0);  // warmup, decay
      opt.set_learning_rate(lr);
      for (auto& g : ref->param_groups()) static_cast<torch::optim::AdamWOptions&>(g.options()).lr(lr);
      set_grads(ours, 100 + step);
      set_grads(*theirs, 100 + step);
      opt.step();
      ref->step();
      expect_same(ours, *theirs, step);
    }
    // The state too, under the names pretraining checkpoints use.
    const auto state = opt.state();
    EXPECT_EQ(state.size(), 15u);
    for (const auto& p : ours.named_parameters()) EXPECT_EQ(state.at(p.key() + ".step").item<int64_t>(), 20);
  }
}

TEST(MultiTensorAdamW, SavedStateResumesExactlyAndIsCheckedOnLoad) {
  torch::manual_seed(2);
  Params a;
  auto b = copy_of(a);
  ft::train::AdamWSettings s{1e-2, 0.9, 0.999, 1e-8, 0.01};
  ft::train::MultiTensorAdamW opt_a(a, s), opt_b(*b, s);
  for (int step = 0; step < 8; ++step) {
    set_grads(a, step);
    opt_a.step();
    if (step < 4) {
      set_grads(*b, step);
      opt_b.step();
    }
  }
  // b stops after 4 steps; a fresh optimizer picks up its state and does the other 4.
  ft::train::MultiTensorAdamW resumed(*b, s);
  resumed.load_state(opt_b.state(), "test");
  for (int step = 4; step < 8; ++step) {
    set_grads(*b, step);
    resumed.step();
  }
  expect_same(a, *b, 8);

  auto state = opt_a.state();
  state.erase("dense_bias.exp_avg_sq");
  try {
    resumed.load_state(state, "ckpt/optimizer.safetensors");
    FAIL() << "expected an error";
  } catch (const ft::Error& e) {
    EXPECT_STREQ(e.what(), "ckpt/optimizer.safetensors: no optimizer state 'dense_bias.exp_avg_sq'");
  }
  state = opt_a.state();
  state["out_weight.exp_avg"] = torch::zeros({6, 3});
  EXPECT_THROW(resumed.load_state(state, "x"), ft::Error);
}

TEST(MultiTensorAdamW, FoundInfSkipsTheStepAndItsCount) {
  torch::manual_seed(3);
  Params m;
  auto before = copy_of(m);
  ft::train::MultiTensorAdamW opt(m, {1e-2, 0.9, 0.999, 1e-8, 0.01});
  set_grads(m, 1);
  opt.step(torch::ones({}));
  expect_same(m, *before, 1);
  EXPECT_TRUE(opt.state().empty() || opt.state().at("dense_weight.step").item<int64_t>() == 0);
  opt.step(torch::zeros({}));
  EXPECT_EQ(opt.state().at("dense_weight.step").item<int64_t>(), 1);
}

TEST(ClipGradNorm, EqualsTorchClipGradNormInGradientsAndNorm) {
  for (const double max_norm : {0.5, 1e3}) {
    torch::manual_seed(4);
    Params ours;
    auto theirs = copy_of(ours);
    set_grads(ours, 9);
    set_grads(*theirs, 9);
    const double expected = torch::nn::utils::clip_grad_norm_(theirs->parameters(), max_norm);
    const torch::Tensor norm = ft::train::clip_grad_norm(ours.parameters(), max_norm);
    EXPECT_EQ(norm.dim(), 0);
    EXPECT_DOUBLE_EQ(norm.item<double>(), expected) << "max_norm " << max_norm;
    auto pt = theirs->named_parameters();
    for (const auto& p : ours.named_parameters())
      EXPECT_TRUE(p.value().grad().equal(pt[p.key()].grad())) << p.key() << " max_norm " << max_norm;
  }
  // max_norm 0: measured, not clipped.
  Params m;
  set_grads(m, 5);
  const torch::Tensor g = m.parameters()[0].grad().clone();
  const double total = ft::train::clip_grad_norm(m.parameters(), 0).item<double>();
  EXPECT_TRUE(m.parameters()[0].grad().equal(g));
  double sq = 0;
  for (const auto& p : m.parameters()) sq += p.grad().to(torch::kDouble).pow(2).sum().item<double>();
  EXPECT_NEAR(total, std::sqrt(sq), 1e-5 * std::sqrt(sq));
}

TEST(LossScaler, UnscalesBacksOffOnOverflowAndGrowsAfterCleanSteps) {
  ft::train::LossScaler scaler(true, torch::kCPU);
  EXPECT_EQ(scaler.value(), 65536.0);
  torch::Tensor p = torch::zeros({3}, torch::requires_grad());
  p.mutable_grad() = torch::tensor({65536.0f, -131072.0f, 32768.0f});
  scaler.unscale({p});
  EXPECT_TRUE(p.grad().equal(torch::tensor({1.0f, -2.0f, 0.5f})));
  EXPECT_EQ(scaler.found_inf().item<float>(), 0.0f);
  scaler.update();
  EXPECT_EQ(scaler.value(), 65536.0);

  p.mutable_grad() = torch::tensor({1.0f, std::numeric_limits<float>::infinity(), 0.0f});
  scaler.unscale({p});
  EXPECT_EQ(scaler.found_inf().item<float>(), 1.0f);
  scaler.update();
  EXPECT_EQ(scaler.value(), 32768.0);  // halved, and the clean-step count starts again

  for (int i = 0; i < ft::train::LossScaler::kGrowthInterval; ++i) {
    p.mutable_grad() = torch::ones({3});
    scaler.unscale({p});
    scaler.update();
    EXPECT_EQ(scaler.value(), i + 1 < ft::train::LossScaler::kGrowthInterval ? 32768.0 : 65536.0) << i;
  }
  ft::train::LossScaler off(false, torch::kCPU);
  EXPECT_FALSE(off.found_inf().defined());
  EXPECT_EQ(off.value(), 1.0);
}

TEST(Packing, HostBuiltLayoutEqualsTheMaskDerivedOne) {
  std::mt19937 rng(5);
  for (int trial = 0; trial < 20; ++trial) {
    std::vector<std::vector<int64_t>> seqs;
    const int n = 1 + static_cast<int>(rng() % 9);
    for (int i = 0; i < n; ++i) {
      std::vector<int64_t> s(1 + rng() % 17);
      for (auto& t : s) t = 2 + static_cast<int64_t>(rng() % 50);
      seqs.push_back(s);
    }
    std::vector<size_t> idx(seqs.size());
    std::iota(idx.begin(), idx.end(), 0);
    std::shuffle(idx.begin(), idx.end(), rng);
    const auto b = ft::data::collate(seqs, {}, idx, 1);
    const auto ref = ft::data::pack_padded(b.input_ids, b.attention_mask);
    const torch::Tensor mask = b.attention_mask;
    const torch::Tensor lengths = mask.sum(1);
    // What the model used to compute on the device, with nonzero():
    EXPECT_TRUE(b.index.equal(mask.reshape({-1}).nonzero().squeeze(1)));
    EXPECT_TRUE(b.first.equal(torch::cumsum(lengths, 0) - lengths));
    EXPECT_TRUE(b.packed_ids.equal(b.input_ids.reshape({-1}).index_select(0, b.index)));
    EXPECT_TRUE(b.cu_seqlens.equal(torch::cat({torch::zeros({1}, torch::kLong), torch::cumsum(lengths, 0)}).to(torch::kInt)));
    EXPECT_EQ(b.real_tokens, mask.sum().item<int64_t>());
    EXPECT_EQ(b.max_length, lengths.max().item<int64_t>());
    for (const auto& [x, y] : {std::pair{b.index, ref.index}, {b.first, ref.first}, {b.packed_ids, ref.packed_ids},
                               {b.positions, ref.positions}, {b.cu_seqlens, ref.cu_seqlens}})
      EXPECT_TRUE(x.equal(y));
  }
}

// Counts the ops that make the host wait for the device: reading a scalar (.item()) and nonzero().
struct SyncCounter {
  static std::atomic<int>& count() {
    static std::atomic<int> n{0};
    return n;
  }
  at::CallbackHandle handle;
  SyncCounter() {
    count() = 0;
    handle = at::addGlobalCallback(at::RecordFunctionCallback([](const at::RecordFunction& fn) -> std::unique_ptr<at::ObserverContext> {
                                     const std::string name = fn.name();
                                     if (name == "aten::_local_scalar_dense" || name == "aten::nonzero" || name == "aten::item")
                                       ++count();
                                     return nullptr;
                                   }).needsInputs(false));
  }
  ~SyncCounter() { at::removeCallback(handle); }
};

TEST(TrainingStep, DispatchesNoHostSyncBetweenLoggingPoints) {
  ft::model::ModelConfig cfg;
  cfg.model_type = "roberta";
  cfg.vocab_size = 40;
  cfg.hidden_size = 16;
  cfg.num_hidden_layers = 2;
  cfg.num_attention_heads = 2;
  cfg.intermediate_size = 32;
  cfg.max_position_embeddings = 40;
  cfg.type_vocab_size = 1;
  cfg.pad_token_id = 1;
  torch::manual_seed(6);
  ft::model::Transformer model(cfg, ft::model::Head::SequenceClassification);
  model->train();
  ft::train::TrainingStep step(*model, {{1e-3, 0.9, 0.999, 1e-8, 0.01}, 1.0}, "fp32", torch::kCPU);
  const std::vector<std::vector<int64_t>> seqs = {{0, 5, 6, 2}, {0, 7, 2}, {0, 8, 9, 10, 11, 2}, {0, 12, 2}};
  const std::vector<int64_t> labels = {1, 0, 1, 0};
  {
    SyncCounter syncs;
    for (int s = 0; s < 3; ++s) {
      for (int micro = 0; micro < 2; ++micro) {
        const auto batch = ft::data::collate(seqs, labels, {static_cast<size_t>(2 * micro), static_cast<size_t>(2 * micro + 1)}, 1);
        step.backward(torch::cross_entropy_loss(model->forward(batch), batch.labels) / 2.0);
      }
      step.step(1e-3);
    }
    EXPECT_EQ(SyncCounter::count().load(), 0);
    (void)torch::ones({2}).sum().item<float>();  // the counter does see a sync
    EXPECT_GE(SyncCounter::count().load(), 1);
  }
  std::vector<double> losses;
  EXPECT_GT(step.flush(losses, ""), 0);  // the gradient norm
  ASSERT_EQ(losses.size(), 3u);
  for (double l : losses) EXPECT_TRUE(std::isfinite(l) && l > 0);
  step.flush(losses, "");
  EXPECT_EQ(losses.size(), 3u);
  EXPECT_EQ(step.steps(), 3);
}

TEST(TrainingStep, NonFiniteLossIsReportedWithItsStep) {
  Params m;
  ft::train::TrainingStep step(m, {{1e-3, 0.9, 0.999, 1e-8, 0.0}, 1.0}, "fp32", torch::kCPU);
  step.set_steps(10);
  const torch::Tensor w = m.parameters()[0];
  step.backward(w.sum() * 0);
  step.step(1e-3);
  step.backward(w.sum() * std::numeric_limits<float>::quiet_NaN());
  step.step(1e-3);
  try {
    std::vector<double> losses;
    step.flush(losses, "; no model written");
    FAIL() << "expected an error";
  } catch (const ft::Error& e) {
    EXPECT_STREQ(e.what(), "training loss became nan at step 12 (learning rate too high?); stopped; no model written");
  }
}

}  // namespace
