// The embedded default model, models/ko-roberta-small: its files are complete and small, it predicts
// masked words of reviews it never saw far better than word frequencies do, and it fine-tunes to a
// clearly better NSMC classifier than the same architecture from random weights.
#include <gtest/gtest.h>

#include <filesystem>
#include <iostream>

#include "core/files.h"
#include "data/batching.h"
#include "data/dataset.h"
#include "data/mlm.h"
#include "io/hf_model.h"
#include "test_util.h"
#include "text/tokenizer.h"
#include "train/run.h"

namespace {

const std::string kModel = ft::testing::source_dir() + "/models/ko-roberta-small";

TEST(EmbeddedModel, FilesAreCompleteAndSmall) {
  for (const char* f : {"config.json", "model.safetensors", "vocab.txt", "tokenizer.json", "tokenizer_config.json",
                        "special_tokens_map.json", "README.md", "pretrain_results.json"})
    EXPECT_TRUE(ft::file_exists(ft::join_path(kModel, f))) << f;
  uintmax_t bytes = 0;
  for (const std::string& f : ft::files_below(kModel)) bytes += std::filesystem::file_size(f);
  EXPECT_LE(bytes, 25u * 1000 * 1000);
  const auto cfg = ft::read_json(ft::join_path(kModel, "config.json"));
  EXPECT_EQ(cfg["model_type"], "roberta");
  EXPECT_EQ(cfg["architectures"][0], "RobertaForMaskedLM");
  // Korean reviews tokenize without unknown pieces.
  const auto tok = ft::text::Tokenizer::from_dir(kModel);
  for (int64_t id : tok.encode("이 영화 정말 재미있어요 ㅋㅋ 강추!! 10점 만점에 9점"))
    EXPECT_NE(id, tok.unk_id());
}

// The corpus's last 2,000 lines were held out of pretraining; the model must fill in the masked
// words of the last 1,000 (tests/data/nsmc/heldout_reviews.txt). Guessing from word frequencies
// alone (the plateau pretraining starts on) gives a loss of about 7.0 and an accuracy of about
// 0.16; the model after pretraining's first stage 5.4 and 0.23.
TEST(EmbeddedModel, PredictsMaskedWordsOfHeldOutReviews) {
  const auto tok = ft::text::Tokenizer::from_dir(kModel);
  const auto lines = ft::data::read_lines(ft::testing::data_path("nsmc/heldout_reviews.txt"));
  ASSERT_EQ(lines.size(), 1000u);
  std::vector<std::vector<int64_t>> docs;
  for (const std::string& line : lines) {
    const auto ids = tok.encode(line);
    docs.emplace_back(ids.begin() + 1, ids.end() - 1);  // without [CLS]/[SEP]: packing adds them
  }
  const auto seqs = ft::data::pack_documents(docs, 128, tok.cls_id(), tok.sep_id());
  const auto vocab = ft::data::MlmVocab::from_tokenizer(tok);
  auto model = ft::io::load_model(kModel, ft::model::Head::MaskedLM);
  model->eval();
  torch::NoGradGuard no_grad;
  int64_t correct = 0, total = 0;
  double loss_sum = 0;
  for (size_t start = 0; start < seqs.size(); start += 64) {
    std::vector<size_t> idx;
    for (size_t i = start; i < std::min(seqs.size(), start + 64); ++i) idx.push_back(i);
    const auto batch = ft::data::collate(seqs, {}, idx, tok.pad_id());
    const auto m = ft::data::apply_mask(batch, ft::data::mask_tokens(batch.input_ids, vocab, {}, 7 + start));
    const torch::Tensor logits = model->masked_lm_logits(m.batch, m.positions);
    const torch::Tensor& targets = m.targets;
    correct += logits.argmax(-1).eq(targets).sum().item<int64_t>();
    loss_sum += torch::nn::functional::cross_entropy(
                    logits, targets, torch::nn::functional::CrossEntropyFuncOptions().reduction(torch::kSum))
                    .item<double>();
    total += targets.size(0);
  }
  const double accuracy = static_cast<double>(correct) / static_cast<double>(total);
  const double loss = loss_sum / static_cast<double>(total);
  EXPECT_GT(total, 2000);
  std::cout << "held-out MLM: loss " << loss << ", accuracy " << accuracy << " (" << total << " masked tokens)\n";
  EXPECT_LT(loss, 5.2);
  EXPECT_GT(accuracy, 0.24);
}

// Same data, schedule and seed; only the starting weights differ.
TEST(EmbeddedModel, FineTunesFarBetterThanRandomInit) {
  ft::testing::TempDir dir("embedded");
  auto accuracy = [&](bool random_init) {
    const nlohmann::json j = {{"model_name_or_path", kModel},
                              {"random_init", random_init},
                              {"train_file", ft::testing::nsmc_path("ratings_train.txt")},
                              {"eval_file", ft::testing::nsmc_path("ratings_test.txt")},
                              {"max_train_samples", 3000},
                              {"max_eval_samples", 1000},
                              {"num_train_epochs", 1},
                              {"learning_rate", 1e-4},
                              {"warmup_ratio", 0.06},
                              {"output_dir", dir / (random_init ? "random" : "pretrained")},
                              {"threads", 2}};
    return ft::train::run_training(ft::train::RunSpec::from_json(j, "test"))["eval"]["final"]["accuracy"].get<double>();
  };
  const double pretrained = accuracy(false), random = accuracy(true);
  std::cout << "accuracy after fine-tuning: pretrained " << pretrained << ", random init " << random << "\n";
  EXPECT_GT(pretrained, 0.72);
  EXPECT_GT(pretrained, random + 0.08) << "pretrained " << pretrained << ", random init " << random;
}

}  // namespace
