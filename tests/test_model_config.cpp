// config.json parsing, the BERT and masked-LM variants' HF parameter names and counts, and the CLI's
// one-line errors on bad model directories.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>

#include "core/error.h"
#include "core/files.h"
#include "io/hf_model.h"
#include "model/spec.h"
#include "test_util.h"

namespace {

using ft::model::ModelConfig;
using ft::testing::TempDir;

nlohmann::json base_config() {
  return {{"model_type", "roberta"}, {"vocab_size", 100}, {"hidden_size", 16}, {"num_hidden_layers", 1},
          {"num_attention_heads", 2}, {"intermediate_size", 32}, {"max_position_embeddings", 20}};
}

TEST(ModelConfig, ReadsHFKeysWithFamilyDefaults) {
  const ModelConfig r = ModelConfig::from_json(base_config(), "c.json");
  EXPECT_EQ(r.pad_token_id, 1);  // RoBERTa's default
  EXPECT_EQ(r.type_vocab_size, 1);
  EXPECT_DOUBLE_EQ(r.layer_norm_eps, 1e-5);
  EXPECT_EQ(r.num_labels(), 2);
  auto j = base_config();
  j["model_type"] = "bert";
  j["id2label"] = {{"0", "neg"}, {"1", "neu"}, {"2", "pos"}};
  j["label2id"] = {{"neg", 0}, {"neu", 1}, {"pos", 2}};
  j["classifier_dropout"] = 0.3;
  j["custom_key"] = "kept";
  const ModelConfig b = ModelConfig::from_json(j, "c.json");
  EXPECT_EQ(b.pad_token_id, 0);
  EXPECT_EQ(b.id2label, (std::vector<std::string>{"neg", "neu", "pos"}));
  EXPECT_DOUBLE_EQ(b.head_dropout(), 0.3);
  const auto out = b.to_json("BertForSequenceClassification");
  EXPECT_EQ(out["custom_key"], "kept");
  EXPECT_EQ(out["label2id"]["pos"], 2);
  EXPECT_EQ(ModelConfig::from_json(out, "round trip").id2label, b.id2label);
}

TEST(ModelConfig, UnknownOrContradictoryValuesAreErrorsNamingTheKey) {
  auto expect_error = [](nlohmann::json j, const std::string& key) {
    try {
      ModelConfig::from_json(j, "cfg.json");
      ADD_FAILURE() << "accepted " << j.dump();
    } catch (const ft::Error& e) {
      EXPECT_NE(std::string(e.what()).find("cfg.json"), std::string::npos) << e.what();
      EXPECT_NE(std::string(e.what()).find(key), std::string::npos) << e.what();
    }
  };
  auto j = base_config();
  j["model_type"] = "gpt2";
  expect_error(j, "model_type");
  j = base_config();
  j["num_attention_heads"] = 3;
  expect_error(j, "num_attention_heads");
  j = base_config();
  j["hidden_act"] = "swish";
  expect_error(j, "hidden_act");
  j = base_config();
  j["num_labels"] = 3;
  j["id2label"] = {{"0", "a"}, {"1", "b"}};
  expect_error(j, "num_labels");
  j = base_config();
  j["id2label"] = {{"0", "a"}, {"1", "b"}};
  j["label2id"] = {{"a", 1}, {"b", 0}};
  expect_error(j, "label2id");
  j = base_config();
  j.erase("hidden_size");
  expect_error(j, "hidden_size");
  j = base_config();
  j["vocab_size"] = -5;
  expect_error(j, "vocab_size");
  j = base_config();
  j["position_embedding_type"] = "relative_key";
  expect_error(j, "position_embedding_type");
}

std::vector<std::string> names(ft::model::TransformerImpl& m) {
  std::vector<std::string> out;
  for (const auto& item : m.named_parameters()) out.push_back(item.key());
  return out;
}

bool has(const std::vector<std::string>& v, const std::string& s) { return std::find(v.begin(), v.end(), s) != v.end(); }

TEST(ModelStructure, BertClassifierHasHFNamesAndCount) {
  // klue/bert-base's shape with 3 labels: embeddings 32000·768 + 512·768 + 2·768 + LayerNorm 2·768,
  // 12 layers of 7,087,872, pooler 768·768 + 768, classifier 3·768 + 3.
  const int64_t expected = (32000 + 512 + 2 + 2) * 768 + 12 * 7087872 + (768 * 768 + 768) + (3 * 768 + 3);
  ft::model::Transformer m(ModelConfig::load(ft::testing::data_path("klue/bert-base")),
                           ft::model::Head::SequenceClassification);
  EXPECT_EQ(ft::model::count_parameters(*m).base, expected);
  const auto n = names(*m);
  for (const char* k : {"bert.embeddings.token_type_embeddings.weight", "bert.pooler.dense.weight", "classifier.weight",
                        "bert.encoder.layer.11.attention.output.LayerNorm.bias"})
    EXPECT_TRUE(has(n, k)) << k;
}

TEST(ModelStructure, MaskedLMHeadsAreTiedAndNamedAsHF) {
  auto cfg = ModelConfig::from_json(base_config(), "c");
  ft::model::Transformer roberta(cfg, ft::model::Head::MaskedLM);
  const auto rn = names(*roberta);
  for (const char* k : {"lm_head.dense.weight", "lm_head.layer_norm.weight", "lm_head.bias"}) EXPECT_TRUE(has(rn, k)) << k;
  EXPECT_FALSE(has(rn, "lm_head.decoder.weight"));  // tied to the word embeddings
  const torch::Tensor ids = torch::tensor({{0, 5, 6, 2}}), mask = torch::ones({1, 4}, torch::kLong);
  EXPECT_EQ(roberta->forward(ids, mask).sizes(), (std::vector<int64_t>{1, 4, 100}));
  cfg.model_type = "bert";
  ft::model::Transformer bert(cfg, ft::model::Head::MaskedLM);
  const auto bn = names(*bert);
  for (const char* k : {"cls.predictions.transform.dense.weight", "cls.predictions.transform.LayerNorm.bias", "cls.predictions.bias"})
    EXPECT_TRUE(has(bn, k)) << k;
  // Tied: the decoder's gradient flows into the word embeddings.
  bert->forward(ids, mask).sum().backward();
  EXPECT_TRUE(bert->named_parameters()["bert.embeddings.word_embeddings.weight"].grad().abs().sum().item<double>() > 0);
}

TEST(ModelStructure, BertSaveLoadRoundTripIsExact) {
  auto cfg = ModelConfig::from_json(base_config(), "c");
  cfg.model_type = "bert";
  cfg.pad_token_id = 0;
  cfg.type_vocab_size = 2;
  ft::model::Transformer m(cfg, ft::model::Head::SequenceClassification);
  m->eval();
  TempDir dir("bert_rt");
  ft::io::save_model(dir.path, *m);
  auto back = ft::io::load_model(dir.path, ft::model::Head::SequenceClassification);
  back->eval();
  const torch::Tensor ids = torch::tensor({{2, 7, 8, 3, 0}}), mask = torch::tensor({{1, 1, 1, 1, 0}}),
                      types = torch::tensor({{0, 0, 1, 1, 0}});
  torch::NoGradGuard no_grad;
  EXPECT_TRUE(torch::equal(m->forward(ids, mask, types), back->forward(ids, mask, types)));
  // Token types matter for BERT.
  EXPECT_FALSE(torch::equal(m->forward(ids, mask, types), m->forward(ids, mask)));
}

// Every bad model directory: exit status 1 and one line "error: …" naming the file.
TEST(ModelCli, BadModelDirectoriesGiveOneClearLine) {
  TempDir dir("cli_errors");
  const std::string log = dir / "log.txt";
  auto check = [&](const std::string& args, const std::string& must_name) {
    const int rc = std::system((std::string(FT_BINARY) + " " + args + " > " + log + " 2>&1").c_str());
    const std::string out = ft::read_file(log);
    EXPECT_TRUE(WIFEXITED(rc) && WEXITSTATUS(rc) == 1) << args << ": " << out;
    EXPECT_EQ(out.rfind("error: ", 0), 0u) << out;
    EXPECT_EQ(std::count(out.begin(), out.end(), '\n'), 1) << out;
    EXPECT_NE(out.find(must_name), std::string::npos) << out;
  };
  check("inspect --model " + dir.path + "/nope", "nope");
  const std::string m = dir / "m";
  ft::make_dirs(m);
  ft::write_file_atomic(m + "/config.json", std::string("{\"model_type\": \"roberta\",\n \"vocab_size\": }"));
  check("inspect --model " + m, "config.json:2");
  ft::write_json_atomic(m + "/config.json", base_config());
  check("inspect --model " + m, "model.safetensors");
  ft::write_file_atomic(m + "/model.safetensors", std::string("\x10\x00\x00\x00\x00\x00\x00\x00{\"a\":", 13));
  check("inspect --model " + m, "model.safetensors");
  check("predict --model " + m + " --random-init --input " + dir.path + "/missing.txt", "missing.txt");
  ft::write_file_atomic(dir / "empty.txt", std::string());
  check("predict --model " + m + " --random-init --input " + (dir / "empty.txt"), "empty.txt");
}

}  // namespace

namespace {

TEST(ModelStructure, DropoutScalesSurvivorsAndIsIdentityOutsideTraining) {
  torch::manual_seed(0);
  const torch::Tensor x = torch::ones({200000}, torch::requires_grad());
  EXPECT_TRUE(torch::equal(ft::model::byte_mask_dropout(x, 0.1, false), x));
  const torch::Tensor y = ft::model::byte_mask_dropout(x, 0.1, true);
  const double dropped = (y == 0).to(torch::kDouble).mean().item<double>();
  EXPECT_NEAR(dropped, 0.1, 0.005);
  EXPECT_TRUE(torch::allclose(y.masked_select(y != 0), torch::full({1}, 1.0 / 0.9)));
  y.sum().backward();  // the gradient is the same mask and scale
  EXPECT_TRUE(torch::equal(x.grad(), y.detach()));
}

}  // namespace
