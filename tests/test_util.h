// Shared helpers for tests: where fixtures and NSMC are, temp dirs, and tensor comparison with a report.
#pragma once
#include <gtest/gtest.h>
#include <torch/torch.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <stdexcept>
#include <string>

#include "core/files.h"

namespace ft::testing {

// The checkout the tests read fixtures from: the one they were built in, or FT_SOURCE_DIR in the
// environment (bench/gpu.sh runs binaries built on another machine from its own checkout).
inline std::string source_dir() {
  const char* env = std::getenv("FT_SOURCE_DIR");
  return env && *env ? env : FT_SOURCE_DIR;
}

// A fixture committed under tests/data/ (tests/data/README.md says where each came from). A missing
// one is a broken checkout: the exception fails the test, naming the path, instead of skipping it.
inline std::string data_path(const std::string& rel) {
  const std::string path = source_dir() + "/tests/data/" + rel;
  if (!std::filesystem::exists(path)) throw std::runtime_error("test fixture missing: " + path);
  return path;
}

// An NSMC file in data/nsmc/, which scripts/get-data.sh fills (scripts/test.sh runs it first).
inline std::string nsmc_path(const std::string& name) {
  const std::string path = source_dir() + "/data/nsmc/" + name;
  if (!std::filesystem::exists(path))
    throw std::runtime_error(path + " is missing: run scripts/get-data.sh (scripts/test.sh does)");
  return path;
}

// A fresh directory under /tmp, removed when the object goes out of scope.
struct TempDir {
  std::string path;
  explicit TempDir(const std::string& tag) {
    static int counter = 0;
    path = (std::filesystem::temp_directory_path() /
            ("ft_" + tag + "_" + std::to_string(::getpid()) + "_" + std::to_string(counter++)))
               .string();
    ft::remove_tree(path);
    ft::make_dirs(path);
  }
  ~TempDir() { ft::remove_tree(path); }
  std::string operator/(const std::string& name) const { return path + "/" + name; }
};

// A 2-layer, hidden-32 RoBERTa over klue's vocabulary, for runs whose weights start random (the
// seed fixes them): config.json and the tokenizer files in dir/model.
inline std::string tiny_klue_model(const TempDir& dir) {
  const std::string m = dir / "model";
  ft::make_dirs(m);
  for (const char* f : {"vocab.txt", "tokenizer_config.json", "special_tokens_map.json"})
    std::filesystem::copy_file(data_path(std::string("klue/roberta-base/") + f), m + "/" + f);
  ft::write_json_atomic(m + "/config.json",
                        {{"model_type", "roberta"}, {"vocab_size", 32000}, {"hidden_size", 32}, {"num_hidden_layers", 2},
                         {"num_attention_heads", 2}, {"intermediate_size", 64}, {"max_position_embeddings", 130},
                         {"type_vocab_size", 1}, {"pad_token_id", 1}, {"layer_norm_eps", 1e-5}});
  return m;
}

// |a - b| <= atol + rtol·|b| elementwise, reporting the worst element on failure.
inline ::testing::AssertionResult all_close(const torch::Tensor& a, const torch::Tensor& b, double atol, double rtol) {
  if (a.sizes() != b.sizes()) return ::testing::AssertionFailure() << "shape " << a.sizes() << " vs " << b.sizes();
  const torch::Tensor x = a.detach().to(torch::kDouble), y = b.detach().to(torch::kDouble);
  const torch::Tensor excess = (x - y).abs() - (atol + rtol * y.abs());
  if (excess.numel() == 0 || excess.max().item<double>() <= 0) return ::testing::AssertionSuccess();
  const int64_t i = excess.flatten().argmax().item<int64_t>();
  return ::testing::AssertionFailure() << "worst element " << i << ": " << x.flatten()[i].item<double>() << " vs "
                                       << y.flatten()[i].item<double>() << " (max abs diff "
                                       << (x - y).abs().max().item<double>() << ")";
}

}  // namespace ft::testing
