// The synthetic classification task training tests run on: a tiny RoBERTa over a 30-word vocabulary
// and 800/200 reviews where label 1 means the text contains "good".
#pragma once
#include <algorithm>
#include <random>
#include <string>
#include <vector>

#include "core/files.h"
#include "test_util.h"
#include "text/tokenizer.h"
#include "train/run.h"

namespace ft::testing {

// A tiny RoBERTa over a 30-word vocabulary, and a task: label 1 iff the text contains "good".
struct SyntheticTask {
  TempDir dir{"train_task"};
  std::string model, train, eval;

  SyntheticTask() {
    std::vector<std::string> vocab = {"[CLS]", "[PAD]", "[SEP]", "[UNK]", "[MASK]", "good"};
    for (int i = 0; i < 24; ++i) vocab.push_back("w" + std::to_string(i));
    model = dir / "model";
    ft::make_dirs(model);
    ft::text::Tokenizer::from_vocab(vocab, {}).save(model);
    ft::write_json_atomic(model + "/config.json",
                          {{"model_type", "roberta"}, {"vocab_size", vocab.size()}, {"hidden_size", 32},
                           {"num_hidden_layers", 2}, {"num_attention_heads", 2}, {"intermediate_size", 64},
                           {"max_position_embeddings", 40}, {"type_vocab_size", 1}, {"pad_token_id", 1},
                           {"layer_norm_eps", 1e-5}});
    train = dir / "train.tsv";
    eval = dir / "eval.tsv";
    write_split(train, 800, 1);
    write_split(eval, 200, 2);
  }

  static void write_split(const std::string& path, int n, unsigned seed) {
    std::mt19937 rng(seed);
    std::string tsv = "id\tdocument\tlabel\n";
    for (int i = 0; i < n; ++i) {
      const bool positive = i % 2 == 0;
      std::string text;
      for (int w = 0; w < 6; ++w) text += (w ? " " : "") + std::string("w") + std::to_string(rng() % 24);
      // Both classes have 7 words, so length gives nothing away; shuffling moves "good" around.
      text.insert(0, positive ? "good " : "w" + std::to_string(rng() % 24) + " ");
      std::vector<std::string> words;
      std::string word;
      for (char c : text + " ") {
        if (c == ' ') { words.push_back(word); word.clear(); } else { word += c; }
      }
      std::shuffle(words.begin(), words.end(), rng);
      text.clear();
      for (const auto& x : words) text += (text.empty() ? "" : " ") + x;
      tsv += std::to_string(i) + "\t" + text + "\t" + (positive ? "1" : "0") + "\n";
    }
    ft::write_file_atomic(path, tsv);
  }

  ft::train::RunSpec spec(const std::string& out, const std::string& method) const {
    nlohmann::json j = {{"model_name_or_path", model}, {"random_init", true}, {"train_file", train},
                        {"eval_file", eval}, {"output_dir", out}, {"method", method},
                        {"learning_rate", method == "full" ? 2e-3 : 5e-3}, {"num_train_epochs", 6},
                        {"per_device_train_batch_size", 16}, {"logging_steps", 10}, {"threads", 1},
                        {"warmup_ratio", 0.1}, {"lora_target_modules", "query,value,intermediate.dense"}};
    return ft::train::RunSpec::from_json(j, "test");
  }
};

}  // namespace ft::testing
