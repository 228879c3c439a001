// The model's hyper-parameters, read from and written to Hugging Face's config.json.
#pragma once
#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

namespace ft::model {

struct ModelConfig {
  std::string model_type = "roberta";  // "roberta" | "bert"
  int64_t vocab_size = 0;
  int64_t hidden_size = 0;
  int64_t num_hidden_layers = 0;
  int64_t num_attention_heads = 0;
  int64_t intermediate_size = 0;
  std::string hidden_act = "gelu";  // gelu (exact erf) | gelu_new (tanh approximation) | relu
  int64_t max_position_embeddings = 512;
  int64_t type_vocab_size = 2;
  int64_t pad_token_id = 0;
  double layer_norm_eps = 1e-12;
  double hidden_dropout_prob = 0.1;
  double attention_probs_dropout_prob = 0.1;
  double initializer_range = 0.02;
  std::optional<double> classifier_dropout;  // null in HF means: use hidden_dropout_prob
  std::vector<std::string> id2label = {"LABEL_0", "LABEL_1"};  // label names in id order
  nlohmann::json extra = nlohmann::json::object();             // every other key, kept for round trips

  int64_t num_labels() const { return static_cast<int64_t>(id2label.size()); }
  int64_t head_dim() const { return hidden_size / num_attention_heads; }
  double head_dropout() const { return classifier_dropout.value_or(hidden_dropout_prob); }
  // The first position id: pad_token_id + 1 for RoBERTa (as HF numbers them), 0 for BERT.
  int64_t position_offset() const { return model_type == "roberta" ? pad_token_id + 1 : 0; }
  // Throws when a sequence of `tokens` needs more position embeddings than there are; `what` names
  // where the length comes from ("--max-length 128", "the longest training example").
  void check_sequence_length(int64_t tokens, const std::string& what) const;
  // The state-dict prefix of the encoder: "roberta." or "bert.".
  std::string base_prefix() const { return model_type + "."; }

  // `source` names the file in error messages.
  static ModelConfig from_json(const nlohmann::json& j, const std::string& source);
  static ModelConfig load(const std::string& dir);  // dir/config.json
  // `architecture` e.g. "RobertaForSequenceClassification"; written to "architectures".
  nlohmann::json to_json(const std::string& architecture) const;
};

}  // namespace ft::model
