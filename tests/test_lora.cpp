// LoRA against PEFT's own outputs (tests/data/hf-tiny/lora), plus the invariants PEFT's
// tests check: a fresh adapter changes nothing, merge keeps the logits, save → load is exact.
#include <gtest/gtest.h>

#include <filesystem>

#include "core/error.h"
#include "io/hf_model.h"
#include "io/peft_adapter.h"
#include "io/state_dict.h"
#include "test_util.h"

namespace {

using ft::testing::all_close;
using ft::testing::data_path;

ft::model::Transformer tiny_model() {
  auto m = ft::io::load_model(data_path("hf-tiny"), ft::model::Head::SequenceClassification);
  m->eval();
  return m;
}

struct Inputs {
  ft::io::TensorMap t = ft::io::read_safetensors(data_path("hf-tiny/inputs.safetensors"));
  torch::Tensor logits(ft::model::TransformerImpl& m, std::vector<torch::Tensor>* hidden = nullptr) {
    return m.forward(t.at("input_ids"), t.at("attention_mask"), {}, hidden);
  }
  torch::Tensor loss(const torch::Tensor& logits) { return torch::cross_entropy_loss(logits, t.at("labels")); }
};

// The PEFT-written safetensors adapter beside PEFT's own adapter_config.json.
std::string safetensors_adapter_dir(const ft::testing::TempDir& dir) {
  std::filesystem::copy_file(data_path("hf-tiny/lora/peft_adapter/adapter_config.json"), dir / "adapter_config.json");
  std::filesystem::copy_file(data_path("hf-tiny/lora/adapter_model.safetensors"), dir / "adapter_model.safetensors");
  return dir.path;
}

TEST(LoraParity, PeftBinAdapterGivesPeftOutputs) {
  auto m = tiny_model();
  ft::io::load_adapter(data_path("hf-tiny/lora/peft_adapter"), *m);
  const auto golden = ft::io::read_safetensors(data_path("hf-tiny/lora/outputs.safetensors"));
  Inputs in;
  torch::NoGradGuard no_grad;
  std::vector<torch::Tensor> hidden;
  const torch::Tensor logits = in.logits(*m, &hidden);
  EXPECT_TRUE(all_close(logits, golden.at("logits"), 1e-5, 1e-4));
  EXPECT_TRUE(all_close(in.loss(logits), golden.at("loss").reshape({}), 1e-5, 1e-4));
  for (size_t i = 0; i < hidden.size(); ++i)
    EXPECT_TRUE(all_close(hidden[i], golden.at("hidden_states." + std::to_string(i)), 1e-5, 1e-4)) << i;
}

TEST(LoraParity, AdapterGradientsMatchPeft) {
  ft::testing::TempDir dir("lora_st");
  auto m = tiny_model();
  ft::io::load_adapter(safetensors_adapter_dir(dir), *m);
  const auto grads = ft::io::read_safetensors(data_path("hf-tiny/lora/grads.safetensors"));
  Inputs in;
  in.loss(in.logits(*m)).backward();
  size_t trained = 0;
  for (const auto& item : m->named_parameters()) {
    if (!item.value().requires_grad()) {
      EXPECT_FALSE(item.value().grad().defined()) << item.key() << " is frozen but got a gradient";
      continue;
    }
    ++trained;
    const std::string key = "base_model.model." + item.key();
    ASSERT_TRUE(grads.count(key)) << key;
    EXPECT_TRUE(all_close(item.value().grad(), grads.at(key), 1e-6, 1e-4)) << key;
  }
  EXPECT_EQ(trained, 12u);
  EXPECT_EQ(trained, grads.size());
}

TEST(LoraParity, SavedAdapterHasPeftKeysAndReloadsExactly) {
  auto m = tiny_model();
  ft::io::load_adapter(data_path("hf-tiny/lora/peft_adapter"), *m);
  ft::testing::TempDir dir("lora_save");
  ft::io::save_adapter(dir.path, *m, ft::io::read_adapter_config(data_path("hf-tiny/lora/peft_adapter")), "hf-tiny");
  // Same keys and bytes as what current PEFT writes.
  const auto ours = ft::io::read_safetensors(dir / "adapter_model.safetensors");
  const auto peft = ft::io::read_safetensors(data_path("hf-tiny/lora/adapter_model.safetensors"));
  ASSERT_EQ(ours.size(), peft.size());
  for (const auto& [k, v] : peft) {
    ASSERT_TRUE(ours.count(k)) << k;
    EXPECT_TRUE(torch::equal(ours.at(k), v)) << k;
  }
  const auto cfg = ft::read_json(dir / "adapter_config.json");
  const auto peft_cfg = ft::read_json(data_path("hf-tiny/lora/peft_adapter/adapter_config.json"));
  for (const char* key : {"peft_type", "r", "lora_alpha", "lora_dropout", "target_modules", "task_type", "bias"})
    EXPECT_EQ(cfg[key], peft_cfg[key]) << key;

  auto reloaded = tiny_model();
  ft::io::load_adapter(dir.path, *reloaded);
  Inputs in;
  torch::NoGradGuard no_grad;
  EXPECT_TRUE(torch::equal(in.logits(*m), in.logits(*reloaded)));
}

TEST(LoraParity, MergedModelKeepsLogits) {
  auto m = tiny_model();
  ft::io::load_adapter(data_path("hf-tiny/lora/peft_adapter"), *m);
  Inputs in;
  torch::NoGradGuard no_grad;
  const torch::Tensor before = in.logits(*m);
  m->merge_lora();
  EXPECT_FALSE(m->has_lora());
  EXPECT_TRUE(all_close(in.logits(*m), before, 1e-5, 1e-4));
  // The merged model is a plain HF model: it saves and reloads without the adapter.
  ft::testing::TempDir dir("merged");
  ft::io::save_model(dir.path, *m);
  auto plain = ft::io::load_model(dir.path, ft::model::Head::SequenceClassification);
  plain->eval();
  EXPECT_TRUE(torch::equal(in.logits(*plain), in.logits(*m)));
}

TEST(Lora, FreshAdapterChangesNothingAndFreezesTheBackbone) {
  auto m = tiny_model();
  Inputs in;
  torch::Tensor before;
  {
    torch::NoGradGuard no_grad;
    before = in.logits(*m);
  }
  ft::model::LoraConfig cfg;
  const auto wrapped = m->add_lora(cfg);
  EXPECT_EQ(wrapped.size(), 4u);  // query and value of 2 layers
  torch::NoGradGuard no_grad;
  EXPECT_TRUE(torch::equal(in.logits(*m), before));  // B = 0
  int64_t trainable = 0;
  for (const auto& p : m->parameters())
    if (p.requires_grad()) trainable += p.numel();
  EXPECT_EQ(trainable, 8386);  // PEFT's count for this model (goldens README)
}

TEST(Lora, TargetSuffixMatchingFollowsPeft) {
  auto m = tiny_model();
  ft::model::LoraConfig cfg;
  cfg.target_modules = {"output.dense"};  // PEFT's suffix match takes attention.output.dense too
  EXPECT_EQ(m->add_lora(cfg).size(), 4u);
  auto m2 = tiny_model();
  cfg.target_modules = {"nonexistent"};
  EXPECT_THROW(m2->add_lora(cfg), ft::Error);
}

// Finite differences on the LoRA linear layer alone, in float64.
TEST(Lora, LinearGradientsMatchFiniteDifferences) {
  torch::manual_seed(3);
  ft::model::Linear lin(5, 4);
  lin->to(torch::kDouble);
  {
    torch::NoGradGuard no_grad;
    lin->weight.normal_();
    lin->bias.normal_();
  }
  ft::model::LoraConfig cfg;
  cfg.r = 2;
  cfg.dropout = 0;
  lin->add_lora(cfg);
  {
    torch::NoGradGuard no_grad;
    lin->lora_B->weight.normal_();  // non-zero B so that A gets a gradient
  }
  const torch::Tensor x = torch::randn({3, 5}, torch::kDouble);
  auto f = [&] { return (lin->forward(x).pow(2)).sum(); };
  f().backward();
  for (torch::Tensor* p : {&lin->lora_A->weight, &lin->lora_B->weight}) {
    const torch::Tensor analytic = p->grad().clone();
    torch::Tensor numeric = torch::zeros_like(*p);
    torch::NoGradGuard no_grad;
    for (int64_t i = 0; i < p->numel(); ++i) {
      const double h = 1e-6;
      auto flat = p->view(-1);
      const double orig = flat[i].item<double>();
      flat[i] = orig + h;
      const double up = f().item<double>();
      flat[i] = orig - h;
      const double down = f().item<double>();
      flat[i] = orig;
      numeric.view(-1)[i] = (up - down) / (2 * h);
    }
    EXPECT_TRUE(all_close(analytic, numeric, 1e-6, 1e-6));
  }
}

TEST(LoraLoad, MismatchedAdapterIsRejectedNamingTheTensor) {
  ft::testing::TempDir dir("lora_bad");
  std::filesystem::copy_file(data_path("hf-tiny/lora/peft_adapter/adapter_config.json"), dir / "adapter_config.json");
  auto tensors = ft::io::read_safetensors(data_path("hf-tiny/lora/adapter_model.safetensors"));
  tensors.erase("base_model.model.roberta.encoder.layer.1.attention.self.value.lora_B.weight");
  tensors["base_model.model.roberta.encoder.layer.0.attention.self.query.lora_A.weight"] = torch::zeros({4, 64});
  ft::io::write_safetensors(dir / "adapter_model.safetensors", tensors);
  auto m = tiny_model();
  try {
    ft::io::load_adapter(dir.path, *m);
    FAIL() << "expected an error";
  } catch (const ft::Error& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find("layer.1.attention.self.value.lora_B.weight: missing"), std::string::npos) << msg;
    EXPECT_NE(msg.find("layer.0.attention.self.query.lora_A.weight: shape mismatch"), std::string::npos) << msg;
  }
}

}  // namespace
