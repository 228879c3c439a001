// Masked-LM pretraining: masking statistics, packing, learning on a tiny corpus, exact resume, and the
// saved model as a masked LM and as the start of a classifier.
#include <gtest/gtest.h>

#include <cstdlib>
#include <random>

#include "core/error.h"
#include "core/files.h"
#include "core/run_folder.h"
#include "data/batching.h"
#include "data/mlm.h"
#include "io/hf_model.h"
#include "test_util.h"
#include "text/tokenizer.h"
#include "train/pretrain.h"

namespace {

using ft::testing::TempDir;

std::vector<std::string> tiny_vocab() {
  std::vector<std::string> vocab = {"[CLS]", "[PAD]", "[SEP]", "[UNK]", "[MASK]"};
  for (int i = 0; i < 20; ++i) vocab.push_back("w" + std::to_string(i));
  return vocab;
}

// A 2-layer RoBERTa over tiny_vocab (config.json + tokenizer) in `dir`; `sizes` adds or overrides keys.
std::string write_tiny_config(const std::string& dir, const nlohmann::json& sizes) {
  ft::make_dirs(dir);
  ft::text::Tokenizer::from_vocab(tiny_vocab(), {}).save(dir);
  nlohmann::json cfg = {{"model_type", "roberta"},        {"vocab_size", 25},        {"num_hidden_layers", 2},
                        {"num_attention_heads", 2},       {"max_position_embeddings", 34},
                        {"type_vocab_size", 1},           {"pad_token_id", 1}};
  cfg.update(sizes);
  ft::write_json_atomic(dir + "/config.json", cfg);
  return dir;
}

// A tiny RoBERTa (config + tokenizer) and a corpus of four fixed phrases in random order, so a masked
// word is predictable from the rest of its phrase.
struct TinySetup {
  TempDir dir{"pretrain"};
  std::string model_config, corpus;

  explicit TinySetup(int lines = 400) {
    model_config = write_tiny_config(dir / "config", {{"hidden_size", 32}, {"intermediate_size", 64}, {"layer_norm_eps", 1e-5}});
    corpus = dir / "corpus.txt";
    const char* const phrases[] = {"w0 w1 w2 w3 w4", "w5 w6 w7 w8", "w9 w10 w11 w12 w13 w14", "w15 w16 w17 w18 w19"};
    std::mt19937 rng(7);
    std::string text;
    for (int i = 0; i < lines; ++i) text += std::string(phrases[rng() % 4]) + "\n";
    ft::write_file_atomic(corpus, text);
  }

  ft::train::PretrainArguments args(const std::string& out, int64_t steps) const {
    ft::train::PretrainArguments a;
    a.model_config = model_config;
    a.corpus = corpus;
    a.output_dir = out;
    a.eval_lines = 40;
    a.max_length = 32;
    a.max_steps = steps;
    a.per_device_train_batch_size = 16;
    a.per_device_eval_batch_size = 16;
    a.learning_rate = 1e-2;
    a.logging_steps = 1;
    a.eval_steps = 25;
    a.save_steps = 0;
    a.threads = 1;
    return a;
  }
};

TEST(PretrainMasking, ChoosesFifteenPercentSplitEightyTenTen) {
  const auto tok = ft::text::Tokenizer::from_vocab(tiny_vocab(), {});
  const auto vocab = ft::data::MlmVocab::from_tokenizer(tok);
  ASSERT_EQ(vocab.replacements.size(), 20u);
  // 256 sequences of 128: [CLS] words [SEP] words [SEP] then padding of varying length.
  std::mt19937 rng(1);
  torch::Tensor ids = torch::full({256, 128}, vocab.pad_id, torch::kInt64);
  auto acc = ids.accessor<int64_t, 2>();
  for (int64_t r = 0; r < 256; ++r) {
    const int64_t len = 64 + static_cast<int64_t>(rng() % 65);
    for (int64_t c = 0; c < len; ++c) acc[r][c] = 5 + static_cast<int64_t>(rng() % 20);
    acc[r][0] = vocab.cls_id;
    acc[r][len / 2] = vocab.sep_id;
    acc[r][len - 1] = vocab.sep_id;
  }
  const ft::data::MaskedBatch m = ft::data::mask_tokens(ids, vocab, {}, 123);
  const torch::Tensor special = ids.eq(vocab.cls_id) | ids.eq(vocab.sep_id) | ids.eq(vocab.pad_id);
  const torch::Tensor chosen = m.labels.ne(-100);
  const double candidates = (~special).sum().item<double>();
  const double n = chosen.sum().item<double>();
  EXPECT_EQ(m.chosen, static_cast<int64_t>(n));
  EXPECT_NEAR(n / candidates, 0.15, 0.002);  // exact per sequence up to rounding
  EXPECT_EQ((chosen & special).sum().item<int64_t>(), 0) << "a special token was chosen";
  EXPECT_TRUE(m.input_ids.masked_select(special).equal(ids.masked_select(special)));
  EXPECT_TRUE(m.input_ids.masked_select(~chosen).equal(ids.masked_select(~chosen))) << "unchosen tokens changed";
  EXPECT_TRUE(m.labels.masked_select(chosen).equal(ids.masked_select(chosen))) << "labels must be the original ids";
  EXPECT_TRUE(m.labels.masked_select(~chosen).eq(-100).all().item<bool>());

  const torch::Tensor after = m.input_ids.masked_select(chosen), before = ids.masked_select(chosen);
  const double masked = after.eq(vocab.mask_id).sum().item<double>() / n;
  const double same = after.eq(before).sum().item<double>() / n;
  const double replaced = 1.0 - masked - same;
  // ~4,900 draws: binomial standard deviations are < 0.006. A random replacement equals the original
  // 1 time in 20, which moves 0.5% of the 10% from "replaced" to "same".
  EXPECT_NEAR(masked, 0.8, 0.025);
  EXPECT_NEAR(replaced, 0.1 * 19 / 20, 0.02);
  EXPECT_NEAR(same, 0.1 + 0.1 / 20, 0.02);
  const torch::Tensor random_ids = after.masked_select(after.ne(vocab.mask_id) & after.ne(before));
  EXPECT_TRUE(random_ids.ge(5).all().item<bool>()) << "random replacements must not be special tokens";

  const auto again = ft::data::mask_tokens(ids, vocab, {}, 123);
  EXPECT_TRUE(again.input_ids.equal(m.input_ids) && again.labels.equal(m.labels)) << "same seed, same mask";
  EXPECT_FALSE(ft::data::mask_tokens(ids, vocab, {}, 124).labels.equal(m.labels));
}

TEST(PretrainMasking, ShortSequencesStillGetOneTarget) {
  const auto tok = ft::text::Tokenizer::from_vocab(tiny_vocab(), {});
  const auto vocab = ft::data::MlmVocab::from_tokenizer(tok);
  const torch::Tensor ids = torch::tensor({0, 7, 2, 1, 1}, torch::kInt64).view({1, 5});
  const auto m = ft::data::mask_tokens(ids, vocab, {}, 5);
  EXPECT_EQ(m.chosen, 1);
  EXPECT_EQ(m.labels[0][1].item<int64_t>(), 7);
}

TEST(PretrainPacking, PacksReviewsIntoExactSequences) {
  std::vector<std::string> vocab = tiny_vocab();
  const auto tok = ft::text::Tokenizer::from_vocab(vocab, {});
  auto pieces = [&](const std::string& line) {
    std::vector<int64_t> ids = tok.encode(line);
    return std::vector<int64_t>(ids.begin() + 1, ids.end() - 1);
  };
  const std::vector<std::vector<int64_t>> docs = {pieces("w0 w1 w2"), pieces("w3 w4"),
                                                  pieces("w5 w6 w7 w8 w9 w10 w11 w12 w13"), pieces(""), pieces("w14")};
  const auto seqs = ft::data::pack_documents(docs, 8, tok.cls_id(), tok.sep_id());
  // ids: [CLS]=0, [SEP]=2, wK = 5 + K. The 9-piece review is cut to 6 (8 minus [CLS] and [SEP]).
  const std::vector<std::vector<int64_t>> expected = {
      {0, 5, 6, 7, 2, 8, 9, 2}, {0, 10, 11, 12, 13, 14, 15, 2}, {0, 19, 2}};
  EXPECT_EQ(seqs, expected);
}

TEST(PretrainPacking, KeepsEveryReviewInOrderWithinMaxLength) {
  std::mt19937 rng(3);
  std::vector<std::vector<int64_t>> docs(500);
  for (auto& d : docs)
    for (size_t i = 0, n = rng() % 40; i < n; ++i) d.push_back(5 + static_cast<int64_t>(rng() % 20));
  const int64_t max_len = 32;
  const auto seqs = ft::data::pack_documents(docs, max_len, 0, 2);
  std::vector<int64_t> packed, original;
  for (const auto& s : seqs) {
    ASSERT_LE(static_cast<int64_t>(s.size()), max_len);
    ASSERT_GE(s.size(), 3u);
    EXPECT_EQ(s.front(), 0);
    EXPECT_EQ(s.back(), 2);
    for (size_t i = 1; i < s.size(); ++i)
      if (s[i] != 2) packed.push_back(s[i]);
  }
  for (const auto& d : docs) original.insert(original.end(), d.begin(), d.begin() + std::min<int64_t>(d.size(), max_len - 2));
  EXPECT_EQ(packed, original);
  // Greedy: each sequence was closed only because the next review (up to its first [SEP]) did not fit.
  for (size_t i = 0; i + 1 < seqs.size(); ++i) {
    const size_t next_review = static_cast<size_t>(std::find(seqs[i + 1].begin(), seqs[i + 1].end(), 2) - seqs[i + 1].begin()) - 1;
    EXPECT_GT(seqs[i].size() + next_review + 1, static_cast<size_t>(max_len)) << "sequence " << i;
  }
}

TEST(PretrainTraining, LossDropsOnARepetitiveCorpus) {
  TinySetup setup;
  TempDir out("pretrain_out");
  const auto r = ft::train::run_pretraining(setup.args(out.path, 100));
  ASSERT_EQ(r.losses.size(), 100u);
  double first = 0, last = 0;
  for (int i = 0; i < 10; ++i) first += r.losses[i] / 10, last += r.losses[90 + i] / 10;
  EXPECT_GT(first, 2.5);  // ~ln(25) at random init
  EXPECT_LT(last, 0.7 * first) << "first 10 steps " << first << ", last 10 " << last;
  std::vector<double> evals;
  for (const auto& e : r.log_history)
    if (e.contains("eval_loss")) evals.push_back(e["eval_loss"].get<double>());
  ASSERT_EQ(evals.size(), 4u);  // steps 25, 50, 75, 100
  EXPECT_LT(evals.back(), evals.front());
  EXPECT_GT(r.results["eval"]["mlm_accuracy"].get<double>(), 0.25);  // chance: 1/20

  const auto res = ft::read_json(out / "pretrain_results.json");
  EXPECT_EQ(res["steps"], 100);
  EXPECT_GT(res["tokens_per_second"].get<double>(), 0);
  EXPECT_EQ(res["corpus"]["lines"], 400);
  EXPECT_EQ(ft::read_json(out / "trainer_state.json")["global_step"], 100);
  EXPECT_EQ(ft::read_json(out / "config.json")["architectures"][0], "RobertaForMaskedLM");
  EXPECT_TRUE(ft::file_exists(out / "vocab.txt"));
}

// Each line is four consecutive words w_a w_a+1 w_a+2 w_a+3 (mod 20) from a random a, so a masked word
// is fixed by its neighbours and by nothing else: a model that ignores context (word frequencies,
// positions) scores about 1/20, one that attends to the words beside it about 100%.
TEST(PretrainTraining, LearnsAWordFromItsNeighbours) {
  TempDir dir("pretrain_context");
  const std::string cfg = write_tiny_config(dir / "config", {{"hidden_size", 64}, {"intermediate_size", 128},
                                                             {"hidden_dropout_prob", 0.0},
                                                             {"attention_probs_dropout_prob", 0.0}});
  std::mt19937 rng(1);
  std::string text;
  for (int i = 0; i < 5000; ++i) {
    const unsigned a = rng() % 20;
    for (unsigned k = 0; k < 4; ++k) text += "w" + std::to_string((a + k) % 20) + (k < 3 ? " " : "\n");
  }
  ft::write_file_atomic(dir / "corpus.txt", text);

  ft::train::PretrainArguments a;
  a.model_config = cfg;
  a.corpus = dir / "corpus.txt";
  a.output_dir = dir / "out";
  a.eval_lines = 300;
  a.max_length = 32;
  a.max_steps = 800;
  a.warmup_steps = 50;
  a.per_device_train_batch_size = 16;
  a.learning_rate = 5e-3;
  a.eval_steps = 800;
  a.save_steps = 0;
  a.threads = 1;
  const auto r = ft::train::run_pretraining(a);
  EXPECT_GT(r.results["eval"]["mlm_accuracy"].get<double>(), 0.9);
  EXPECT_LT(r.results["eval"]["mlm_loss"].get<double>(), 0.5);
}

TEST(PretrainResume, ContinuesExactlyAsAnUninterruptedRun) {
  TinySetup setup;
  TempDir full("pretrain_full"), resumed("pretrain_resumed");
  auto args = setup.args(full.path, 12);
  args.save_steps = 6;
  args.eval_steps = 4;
  args.gradient_accumulation_steps = 2;
  args.warmup_steps = 3;
  const auto a = ft::train::run_pretraining(args);
  // The uninterrupted run left its step-6 checkpoint; a second run resumes from a copy of it.
  // The run folder moved elsewhere: its checkpoint and the marker that makes the folder one of our runs.
  std::filesystem::copy(full / "checkpoint", resumed / "checkpoint", std::filesystem::copy_options::recursive);
  std::filesystem::copy(full / ft::kRunMarker, resumed / ft::kRunMarker);
  EXPECT_EQ(ft::read_json(resumed / "checkpoint/trainer_state.json")["global_step"], 6);
  args.output_dir = resumed.path;
  args.model_config.clear();
  args.resume = true;
  const auto b = ft::train::run_pretraining(args);
  ASSERT_EQ(a.losses.size(), 12u);
  EXPECT_EQ(a.losses, b.losses);  // bit for bit
  ASSERT_EQ(a.log_history.size(), b.log_history.size());
  for (size_t i = 0; i < a.log_history.size(); ++i) {
    nlohmann::json x = a.log_history[i], y = b.log_history[i];
    x.erase("eval_runtime");
    y.erase("eval_runtime");
    EXPECT_EQ(x, y) << "log entry " << i;
  }
  const auto wa = ft::io::read_safetensors(full / "model.safetensors");
  const auto wb = ft::io::read_safetensors(resumed / "model.safetensors");
  for (const auto& [name, t] : wa) EXPECT_TRUE(t.equal(wb.at(name))) << name;
  EXPECT_EQ(b.results["resumed_from_step"], 6);

  args.seed = 43;  // another data order: refused rather than silently diverging
  EXPECT_THROW(ft::train::run_pretraining(args), ft::Error);
}

TEST(PretrainModel, SavedModelLoadsAsMaskedLMWithIdenticalLogits) {
  TinySetup setup;
  TempDir out("pretrain_save");
  auto r = ft::train::run_pretraining(setup.args(out.path, 5));
  auto loaded = ft::io::load_model(out.path, ft::model::Head::MaskedLM);
  r.model->eval();
  loaded->eval();
  const torch::Tensor ids = torch::tensor({0, 5, 6, 4, 8, 2, 1}, torch::kInt64).view({1, 7});
  const torch::Tensor mask = ids.ne(1).to(torch::kInt64);
  torch::NoGradGuard no_grad;
  const torch::Tensor expected = r.model->forward(ids, mask), got = loaded->forward(ids, mask);
  EXPECT_EQ(got.sizes(), (std::vector<int64_t>{1, 7, 25}));
  EXPECT_TRUE(got.equal(expected));
  const torch::Tensor positions = torch::tensor({3}, torch::kInt64);  // one row, no pads: token 3 is packed token 3
  EXPECT_TRUE(ft::testing::all_close(loaded->masked_lm_logits(ft::data::pack_padded(ids, mask), positions),
                                     got[0][3].unsqueeze(0), 1e-6, 1e-5));
}

TEST(PretrainModel, CheckpointStartsAClassifier) {
  TinySetup setup;
  TempDir out("pretrain_cls");
  ft::train::run_pretraining(setup.args(out.path, 3));
  const auto mlm = ft::io::read_safetensors(out / "model.safetensors");
  ft::model::Transformer cls(ft::model::ModelConfig::load(out.path), ft::model::Head::SequenceClassification);
  const auto report = ft::io::load_state_dict(*cls, mlm, out / "model.safetensors");
  EXPECT_FALSE(report.initialized.empty());
  for (const auto& name : report.initialized) EXPECT_EQ(name.rfind("classifier.", 0), 0u) << name;
  ASSERT_FALSE(report.ignored.empty());
  for (const auto& name : report.ignored) EXPECT_EQ(name.rfind("lm_head.", 0), 0u) << name;
  for (const auto& item : cls->named_parameters()) {
    if (item.key().rfind("roberta.", 0) != 0) continue;
    EXPECT_TRUE(item.value().equal(mlm.at(item.key()))) << item.key();
  }
  auto loaded = ft::io::load_model(out.path, ft::model::Head::SequenceClassification);
  EXPECT_EQ(loaded->forward(torch::tensor({0, 5, 2}, torch::kInt64).view({1, 3}), torch::ones({1, 3}, torch::kInt64)).sizes(),
            (std::vector<int64_t>{1, 2}));
}

TEST(PretrainErrors, ClearMessages) {
  TinySetup setup;
  TempDir out("pretrain_err");
  auto expect_error = [](const ft::train::PretrainArguments& a, const std::string& part) {
    try {
      ft::train::run_pretraining(a);
      ADD_FAILURE() << "expected an error mentioning '" << part << "'";
    } catch (const ft::Error& e) {
      EXPECT_NE(std::string(e.what()).find(part), std::string::npos) << e.what();
    }
  };
  auto a = setup.args(out.path, 2);
  a.corpus = out / "missing.txt";
  expect_error(a, "does not exist");
  ft::write_file_atomic(out / "empty.txt", "\n\n");
  a.corpus = out / "empty.txt";
  a.eval_lines = 0;
  expect_error(a, "no text");
  a = setup.args(out.path, 2);
  auto cfg = ft::read_json(setup.model_config + "/config.json");
  cfg["vocab_size"] = 10;
  ft::write_json_atomic(setup.model_config + "/config.json", cfg);
  expect_error(a, "tokenizer has 25 tokens but the model only 10");
  a.resume = true;
  expect_error(a, "no checkpoint");
}

TEST(PretrainErrors, NonFiniteLossStopsAndKeepsTheCheckpoint) {
  TinySetup setup;
  TempDir out("pretrain_nan");
  auto a = setup.args(out.path, 20);
  a.learning_rate = 1e30;
  a.warmup_ratio = 0;
  a.save_steps = 1;
  a.eval_lines = 0;
  try {
    ft::train::run_pretraining(a);
    FAIL() << "expected the loss to blow up";
  } catch (const ft::Error& e) {
    EXPECT_NE(std::string(e.what()).find("is intact"), std::string::npos) << e.what();
  }
  EXPECT_TRUE(ft::file_exists(out / "checkpoint/model.safetensors"));
  EXPECT_FALSE(ft::file_exists(out / "pretrain_results.json"));
}

TEST(PretrainCli, WritesResultsWithTheCommandLine) {
  TinySetup setup(100);
  TempDir out("pretrain_cli");
  const std::string cmd = std::string(FT_BINARY) + " pretrain --model-config " + setup.model_config + " --corpus " +
                          setup.corpus + " --output-dir " + out.path +
                          " --max-steps 2 --eval-lines 10 --max-length 32 --threads 1 > /dev/null 2>&1";
  ASSERT_EQ(std::system(cmd.c_str()), 0);
  const auto r = ft::read_json(out / "pretrain_results.json");
  EXPECT_NE(r["command_line"].get<std::string>().find("--max-steps 2"), std::string::npos) << r["command_line"];
  EXPECT_NE(std::system((std::string(FT_BINARY) + " pretrain --corpus x --output-dir " + out.path +
                         " --max-steps 1 > /dev/null 2>&1").c_str()), 0);
}

}  // namespace
