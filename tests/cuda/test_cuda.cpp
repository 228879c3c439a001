// CUDA-only checks, built only against a CUDA libtorch (bench/gpu.sh runs them on the device): the
// variable-length flash attention against the matmul path, a training step that never makes the host
// wait, the fused AdamW against the _foreach_ one and its overflow skip, and PyTorch's AMP kernels
// against the loss scaler's plain-op path.
#include <c10/cuda/CUDAFunctions.h>
#include <gtest/gtest.h>

#include <limits>
#include <numeric>
#include <random>

#include "data/batching.h"
#include "model/attention.h"
#include "model/transformer.h"
#include "test_util.h"
#include "train/optimizer.h"
#include "train/precision.h"
#include "train/step.h"

namespace {

const torch::Device kCuda(torch::kCUDA);

// ‖a − b‖ / ‖b‖, in float64.
double relative_error(const torch::Tensor& a, const torch::Tensor& b) {
  const torch::Tensor x = a.detach().to(torch::kCPU, torch::kDouble), y = b.detach().to(torch::kCPU, torch::kDouble);
  return (x - y).norm().item<double>() / std::max(1e-30, y.norm().item<double>());
}

ft::model::ModelConfig small_config(double dropout) {
  ft::model::ModelConfig cfg;
  cfg.vocab_size = 300;
  cfg.hidden_size = 256;
  cfg.num_hidden_layers = 3;
  cfg.num_attention_heads = 4;  // head size 64, as klue/roberta-base
  cfg.intermediate_size = 512;
  cfg.max_position_embeddings = 130;
  cfg.type_vocab_size = 1;
  cfg.pad_token_id = 1;
  cfg.layer_norm_eps = 1e-5;
  cfg.hidden_dropout_prob = cfg.attention_probs_dropout_prob = dropout;
  return cfg;
}

ft::data::Batch random_batch(int64_t rows, uint64_t seed, bool pin) {
  std::mt19937 rng(static_cast<unsigned>(seed));
  std::vector<std::vector<int64_t>> seqs;
  std::vector<int64_t> labels;
  for (int64_t i = 0; i < rows; ++i) {
    std::vector<int64_t> s(3 + rng() % 100);
    for (auto& t : s) t = 5 + static_cast<int64_t>(rng() % 290);
    s.front() = 0;
    s.back() = 2;
    seqs.push_back(s);
    labels.push_back(static_cast<int64_t>(rng() % 2));
  }
  std::vector<size_t> idx(seqs.size());
  std::iota(idx.begin(), idx.end(), 0);
  return ft::data::collate(seqs, labels, idx, 1, pin);
}

TEST(Cuda, VarlenAttentionMatchesTheMatmulPathInFp16) {
  for (const auto head : {ft::model::Head::SequenceClassification, ft::model::Head::MaskedLM}) {
    torch::manual_seed(1);
    ft::model::Transformer model(small_config(0.0), head);
    model->to(kCuda);
    model->train();  // dropout 0: deterministic, with gradients
    const ft::data::Batch batch = random_batch(24, 2, true).to(kCuda);
    std::vector<torch::Tensor> outputs;
    std::vector<std::vector<torch::Tensor>> grads;
    for (const auto kernel : {ft::model::AttentionKernel::Auto, ft::model::AttentionKernel::Matmul}) {
      model->set_attention_kernel(kernel);
      model->zero_grad();
      torch::Tensor out;
      {
        ft::train::AutocastScope autocast("fp16", "cuda");
        if (kernel == ft::model::AttentionKernel::Auto)
          ASSERT_TRUE(ft::model::varlen_attention_usable(torch::zeros({1}, kCuda), 64)) << "no flash attention in this build";
        out = model->forward(batch).to(torch::kFloat);  // [B,L] or [T,V]
      }
      (head == ft::model::Head::SequenceClassification ? torch::cross_entropy_loss(out, batch.labels)
                                                      : torch::cross_entropy_loss(out, batch.packed_ids))
          .backward();
      outputs.push_back(out.detach());
      grads.emplace_back();
      for (const auto& p : model->parameters()) grads.back().push_back(p.grad().detach().clone());
    }
    EXPECT_LT(relative_error(outputs[0], outputs[1]), 5e-3);
    auto names = model->named_parameters();
    for (size_t i = 0; i < grads[0].size(); ++i) {
      // key biases get no gradient (softmax is shift-invariant): only rounding noise, nothing to compare.
      if (names.keys()[i].find("key.bias") != std::string::npos) continue;
      EXPECT_LT(relative_error(grads[0][i], grads[1][i]), 2e-2) << names.keys()[i];
    }
  }
}

TEST(Cuda, TrainingStepNeverMakesTheHostWait) {
  torch::manual_seed(3);
  ft::model::Transformer model(small_config(0.1), ft::model::Head::SequenceClassification);
  model->to(kCuda);
  model->train();
  ft::train::TrainingStep step(*model, {{2e-5, 0.9, 0.999, 1e-8, 0.01}, 1.0}, "fp16", kCuda);
  auto one_step = [&](uint64_t seed) {
    for (int micro = 0; micro < 2; ++micro) {
      const ft::data::Batch batch = random_batch(32, seed * 2 + micro, true).to(kCuda);
      torch::Tensor loss;
      {
        ft::train::AutocastScope autocast("fp16", "cuda");
        loss = torch::cross_entropy_loss(model->forward(batch).to(torch::kFloat), batch.labels) / 2.0;
      }
      step.backward(loss);
    }
    step.step(2e-5);
  };
  one_step(0);  // first use: handles, allocations
  c10::cuda::warning_state().set_sync_debug_mode(c10::cuda::SyncDebugMode::L_ERROR);
  try {
    for (uint64_t s = 1; s < 4; ++s) one_step(s);
  } catch (const std::exception& e) {
    c10::cuda::warning_state().set_sync_debug_mode(c10::cuda::SyncDebugMode::L_DISABLED);
    FAIL() << "a training step synchronized: " << e.what();
  }
  c10::cuda::warning_state().set_sync_debug_mode(c10::cuda::SyncDebugMode::L_DISABLED);
  std::vector<double> losses;
  EXPECT_GT(step.flush(losses, ""), 0);
  EXPECT_EQ(losses.size(), 4u);
}

struct Params : torch::nn::Module {
  Params() {
    register_parameter("dense_weight", torch::randn({64, 48}));
    register_parameter("dense_bias", torch::randn({64}));
    register_parameter("LayerNorm_weight", torch::randn({48}));
  }
};

TEST(Cuda, FusedAdamWMatchesTheForeachPathAndSkipsOnOverflow) {
  ASSERT_TRUE(ft::train::MultiTensorAdamW::fused_kernel_built()) << "this CUDA libtorch has no _fused_adamw_";
  torch::manual_seed(4);
  Params cpu;
  auto gpu = std::make_shared<Params>();
  {
    torch::NoGradGuard no_grad;
    for (auto& p : gpu->named_parameters()) p.value().copy_(cpu.named_parameters()[p.key()]);
  }
  gpu->to(kCuda);
  const ft::train::AdamWSettings s{1e-2, 0.9, 0.999, 1e-8, 0.01};
  ft::train::MultiTensorAdamW on_cpu(cpu, s), on_gpu(*gpu, s);
  for (int step = 0; step < 10; ++step) {
    torch::manual_seed(100 + step);
    for (auto& p : cpu.parameters()) p.mutable_grad() = torch::randn_like(p);
    auto pc = cpu.named_parameters();
    for (auto& p : gpu->named_parameters()) p.value().mutable_grad() = pc[p.key()].grad().to(kCuda);
    on_cpu.step();
    on_gpu.step(torch::zeros({}, kCuda));
  }
  auto pc = cpu.named_parameters();
  for (const auto& p : gpu->named_parameters())
    EXPECT_TRUE(ft::testing::all_close(p.value().cpu(), pc[p.key()], 1e-6, 1e-5)) << p.key();
  // An overflow: parameters, moments and step counts stay as they were.
  const auto state_before = on_gpu.state();
  std::vector<torch::Tensor> before;
  for (const auto& p : gpu->parameters()) {
    before.push_back(p.detach().clone());
    p.mutable_grad() = torch::randn_like(p);
  }
  on_gpu.step(torch::ones({}, kCuda));
  for (size_t i = 0; i < before.size(); ++i) EXPECT_TRUE(gpu->parameters()[i].equal(before[i]));
  for (const auto& [name, t] : on_gpu.state()) EXPECT_TRUE(t.equal(state_before.at(name))) << name;
}

TEST(Cuda, AmpKernelsMatchTheLossScalersPlainOpPath) {
  ft::train::LossScaler on_gpu(true, kCuda), on_cpu(true, torch::kCPU);
  for (int round = 0; round < 3; ++round) {
    torch::Tensor g = torch::randn({1000}) * 65536;
    if (round == 1) g[17] = std::numeric_limits<float>::infinity();
    torch::Tensor pc = torch::zeros({1000}, torch::requires_grad()), pg = torch::zeros({1000}, torch::requires_grad().device(kCuda));
    pc.mutable_grad() = g.clone();
    pg.mutable_grad() = g.to(kCuda);
    on_cpu.unscale({pc});
    on_gpu.unscale({pg});
    EXPECT_EQ(on_cpu.found_inf().item<float>(), on_gpu.found_inf().item<float>()) << round;
    if (round != 1) {
      EXPECT_TRUE(pg.grad().cpu().equal(pc.grad())) << round;
    }
    on_cpu.update();
    on_gpu.update();
    EXPECT_EQ(on_cpu.value(), on_gpu.value()) << round;
  }
}

}  // namespace
