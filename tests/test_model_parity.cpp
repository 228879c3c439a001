// The encoder against Hugging Face transformers' own outputs (tests/data/hf-tiny): logits,
// loss, hidden states, every gradient, and one AdamW step.
#include <gtest/gtest.h>

#include "core/error.h"
#include "io/hf_model.h"
#include "io/state_dict.h"
#include "test_util.h"

namespace {

using ft::testing::all_close;
using ft::testing::data_path;

struct Tiny {
  ft::model::Transformer model{nullptr};
  ft::io::TensorMap inputs, outputs;

  Tiny() {
    model = ft::io::load_model(data_path("hf-tiny"), ft::model::Head::SequenceClassification);
    model->eval();
    inputs = ft::io::read_safetensors(data_path("hf-tiny/inputs.safetensors"));
    outputs = ft::io::read_safetensors(data_path("hf-tiny/outputs.safetensors"));
  }
  torch::Tensor forward(std::vector<torch::Tensor>* hidden = nullptr) {
    return model->forward(inputs.at("input_ids"), inputs.at("attention_mask"), {}, hidden);
  }
  torch::Tensor loss(const torch::Tensor& logits) { return torch::cross_entropy_loss(logits, inputs.at("labels")); }
};

TEST(ModelParity, PositionIdsMatchHF) {
  Tiny t;
  EXPECT_TRUE(torch::equal(ft::model::position_ids(t.inputs.at("input_ids"), t.model->config()),
                           t.inputs.at("position_ids")));
}

TEST(ModelParity, LogitsLossAndHiddenStatesMatchHF) {
  Tiny t;
  torch::NoGradGuard no_grad;
  std::vector<torch::Tensor> hidden;
  const torch::Tensor logits = t.forward(&hidden);
  EXPECT_TRUE(all_close(logits, t.outputs.at("logits"), 1e-5, 1e-4));
  EXPECT_TRUE(all_close(t.loss(logits), t.outputs.at("loss").reshape({}), 1e-5, 1e-4));
  ASSERT_EQ(hidden.size(), 3u);
  for (size_t i = 0; i < hidden.size(); ++i)
    EXPECT_TRUE(all_close(hidden[i], t.outputs.at("hidden_states." + std::to_string(i)), 1e-5, 1e-4)) << "layer " << i;
}

TEST(ModelParity, FirstTokenOnlyLastLayerGivesTheSameLogits) {
  Tiny t;
  torch::NoGradGuard no_grad;
  std::vector<torch::Tensor> hidden;  // asking for hidden states runs the last layer in full
  const torch::Tensor full = t.forward(&hidden);
  EXPECT_TRUE(all_close(t.forward(), full, 1e-6, 1e-5));
}

// Runs the trimmed last layer (no hidden states asked for) against HF's gradients.
TEST(ModelParity, EveryGradientMatchesHF) {
  Tiny t;
  const auto grads = ft::io::read_safetensors(data_path("hf-tiny/grads.safetensors"));
  t.loss(t.forward()).backward();
  size_t compared = 0;
  for (const auto& item : t.model->named_parameters()) {
    ASSERT_TRUE(grads.count(item.key())) << "no golden gradient for " << item.key();
    const torch::Tensor& g = item.value().grad();
    ASSERT_TRUE(g.defined()) << item.key();
    // key.bias gradients are analytically zero (softmax is shift-invariant): only fp32 noise remains.
    const bool key_bias = item.key().find("attention.self.key.bias") != std::string::npos;
    EXPECT_TRUE(all_close(g, grads.at(item.key()), key_bias ? 1e-7 : 1e-6, key_bias ? 0.0 : 1e-4)) << item.key();
    ++compared;
  }
  EXPECT_EQ(compared, 41u);
  EXPECT_EQ(compared, grads.size());
}

TEST(ModelParity, OneAdamWStepMatchesTorch) {
  Tiny t;
  const auto after = ft::io::read_safetensors(data_path("hf-tiny/params_after_adamw_step.safetensors"));
  // The golden step starts from the golden gradients: a first Adam step is ~lr·g/(|g|+eps), so
  // near-zero gradients would amplify fp32 noise of our own backward pass into the comparison.
  const auto grads = ft::io::read_safetensors(data_path("hf-tiny/grads.safetensors"));
  torch::optim::AdamW opt(t.model->parameters(),
                          torch::optim::AdamWOptions(1e-3).betas({0.9, 0.999}).eps(1e-8).weight_decay(0.01));
  for (auto& item : t.model->named_parameters()) item.value().mutable_grad() = grads.at(item.key()).clone();
  opt.step();
  for (const auto& item : t.model->named_parameters())
    EXPECT_TRUE(all_close(item.value(), after.at(item.key()), 1e-6, 0.0)) << item.key();
}

TEST(ModelParity, SaveLoadGivesBitwiseIdenticalLogits) {
  Tiny t;
  ft::testing::TempDir dir("roundtrip");
  ft::io::save_model(dir.path, *t.model);
  auto reloaded = ft::io::load_model(dir.path, ft::model::Head::SequenceClassification);
  reloaded->eval();
  torch::NoGradGuard no_grad;
  EXPECT_TRUE(torch::equal(t.forward(), reloaded->forward(t.inputs.at("input_ids"), t.inputs.at("attention_mask"))));
  const auto cfg = ft::read_json(dir / "config.json");
  EXPECT_EQ(cfg["architectures"][0], "RobertaForSequenceClassification");
  EXPECT_EQ(ft::io::read_safetensors_metadata(dir / "model.safetensors").at("format"), "pt");
}

// Error paths of load_state_dict, built from the golden state dict with pieces removed or altered.
TEST(ModelLoad, ReportsEveryMissingUnexpectedAndMismatchedKeyAtOnce) {
  auto sd = ft::io::read_safetensors(data_path("hf-tiny/model.safetensors"));
  sd.erase("roberta.encoder.layer.0.attention.self.query.weight");
  sd.erase("roberta.encoder.layer.1.output.LayerNorm.bias");
  sd["roberta.encoder.layer.2.output.dense.weight"] = torch::zeros({64, 128});
  sd["roberta.embeddings.word_embeddings.weight"] = torch::zeros({999, 64});
  ft::model::Transformer m(ft::model::ModelConfig::load(data_path("hf-tiny")), ft::model::Head::SequenceClassification);
  try {
    ft::io::load_state_dict(*m, sd, "ckpt");
    FAIL() << "expected an error";
  } catch (const ft::Error& e) {
    const std::string msg = e.what();
    for (const char* key : {"layer.0.attention.self.query.weight", "layer.1.output.LayerNorm.bias",
                            "layer.2.output.dense.weight", "word_embeddings.weight [999,64] vs model [1000,64]"})
      EXPECT_NE(msg.find(key), std::string::npos) << "missing '" << key << "' in: " << msg;
  }
}

TEST(ModelLoad, MissingHeadIsInitialisedAndBufferIgnored) {
  auto sd = ft::io::read_safetensors(data_path("hf-tiny/model.safetensors"));
  ASSERT_TRUE(sd.count("roberta.embeddings.position_ids"));
  for (const char* k : {"classifier.dense.weight", "classifier.dense.bias", "classifier.out_proj.weight", "classifier.out_proj.bias"})
    sd.erase(k);
  torch::manual_seed(0);
  ft::model::Transformer m(ft::model::ModelConfig::load(data_path("hf-tiny")), ft::model::Head::SequenceClassification);
  const auto report = ft::io::load_state_dict(*m, sd, "ckpt");
  EXPECT_EQ(report.initialized.size(), 4u);
  const auto params = m->named_parameters();
  EXPECT_TRUE(torch::all(params["classifier.out_proj.bias"] == 0).item<bool>());
  const double std = params["classifier.dense.weight"].std().item<double>();
  EXPECT_NEAR(std, 0.02, 0.004);  // normal(0, initializer_range)
}

TEST(ModelLoad, BareEncoderCheckpointGetsPrefixAndOtherHeadsAreIgnored) {
  const auto full = ft::io::read_safetensors(data_path("hf-tiny/model.safetensors"));
  ft::io::TensorMap bare;
  for (const auto& [k, v] : full)
    if (k.rfind("roberta.", 0) == 0) bare[k.substr(8)] = v;
  bare["lm_head.dense.weight"] = torch::zeros({64, 64});
  ft::model::Transformer m(ft::model::ModelConfig::load(data_path("hf-tiny")), ft::model::Head::SequenceClassification);
  const auto report = ft::io::load_state_dict(*m, bare, "bare");
  EXPECT_EQ(report.ignored, std::vector<std::string>{"lm_head.dense.weight"});
  EXPECT_TRUE(torch::equal(m->named_parameters()["roberta.encoder.layer.1.output.dense.weight"],
                           full.at("roberta.encoder.layer.1.output.dense.weight")));
}

}  // namespace
