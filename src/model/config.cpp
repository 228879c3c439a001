#include "model/config.h"

#include <set>

#include "core/error.h"
#include "core/files.h"

namespace ft::model {
namespace {

// Keys this struct owns; everything else goes to `extra` untouched.
const std::set<std::string> kOwnKeys = {
    "model_type", "vocab_size", "hidden_size", "num_hidden_layers", "num_attention_heads",
    "intermediate_size", "hidden_act", "max_position_embeddings", "type_vocab_size", "pad_token_id",
    "layer_norm_eps", "hidden_dropout_prob", "attention_probs_dropout_prob", "initializer_range",
    "classifier_dropout", "num_labels", "id2label", "label2id", "architectures"};

// Far more labels than any classification task has.
constexpr int64_t kMaxLabels = 100'000;

struct Reader {
  const nlohmann::json& j;
  const std::string& source;

  [[noreturn]] void fail(const std::string& key, const std::string& why) const {
    throw Error(source + ": '" + key + "' " + why);
  }
  int64_t positive_int(const std::string& key, std::optional<int64_t> fallback, int64_t min = 1) const {
    if (!j.contains(key) || j[key].is_null()) {
      if (fallback) return *fallback;
      fail(key, "is missing");
    }
    if (!j[key].is_number_integer()) fail(key, "must be an integer");
    const int64_t v = j[key].get<int64_t>();
    if (v < min) fail(key, "must be >= " + std::to_string(min) + " (got " + std::to_string(v) + ")");
    return v;
  }
  double number(const std::string& key, double fallback, double lo, double hi) const {
    if (!j.contains(key) || j[key].is_null()) return fallback;
    if (!j[key].is_number()) fail(key, "must be a number");
    const double v = j[key].get<double>();
    if (!(v >= lo && v <= hi)) fail(key, "is out of range (got " + std::to_string(v) + ")");
    return v;
  }
};

}  // namespace

ModelConfig ModelConfig::from_json(const nlohmann::json& j, const std::string& source) {
  if (!j.is_object()) throw Error(source + ": expected a JSON object");
  Reader r{j, source};
  ModelConfig c;
  if (!j.contains("model_type") || !j["model_type"].is_string()) r.fail("model_type", "is missing (expected \"roberta\" or \"bert\")");
  c.model_type = j["model_type"].get<std::string>();
  if (c.model_type != "roberta" && c.model_type != "bert")
    r.fail("model_type", "is \"" + c.model_type + "\"; supported: roberta, bert");
  const bool roberta = c.model_type == "roberta";

  c.vocab_size = r.positive_int("vocab_size", std::nullopt);
  c.hidden_size = r.positive_int("hidden_size", std::nullopt);
  c.num_hidden_layers = r.positive_int("num_hidden_layers", std::nullopt);
  c.num_attention_heads = r.positive_int("num_attention_heads", std::nullopt);
  c.intermediate_size = r.positive_int("intermediate_size", std::nullopt);
  c.max_position_embeddings = r.positive_int("max_position_embeddings", 512);
  c.type_vocab_size = r.positive_int("type_vocab_size", roberta ? 1 : 2);
  c.pad_token_id = r.positive_int("pad_token_id", roberta ? 1 : 0, 0);
  c.layer_norm_eps = r.number("layer_norm_eps", roberta ? 1e-5 : 1e-12, 0.0, 1.0);
  c.hidden_dropout_prob = r.number("hidden_dropout_prob", 0.1, 0.0, 1.0);
  c.attention_probs_dropout_prob = r.number("attention_probs_dropout_prob", 0.1, 0.0, 1.0);
  c.initializer_range = r.number("initializer_range", 0.02, 0.0, 10.0);
  if (j.contains("classifier_dropout") && !j["classifier_dropout"].is_null())
    c.classifier_dropout = r.number("classifier_dropout", 0.0, 0.0, 1.0);

  if (j.contains("hidden_act")) {
    if (!j["hidden_act"].is_string()) r.fail("hidden_act", "must be a string");
    c.hidden_act = j["hidden_act"].get<std::string>();
  }
  if (c.hidden_act != "gelu" && c.hidden_act != "gelu_new" && c.hidden_act != "relu")
    r.fail("hidden_act", "is \"" + c.hidden_act + "\"; supported: gelu, gelu_new, relu");
  if (j.contains("position_embedding_type") && j["position_embedding_type"] != "absolute")
    r.fail("position_embedding_type", "is not supported (only \"absolute\")");

  if (c.hidden_size % c.num_attention_heads != 0)
    throw Error(source + ": hidden_size " + std::to_string(c.hidden_size) + " is not a multiple of num_attention_heads " +
                std::to_string(c.num_attention_heads));
  if (c.pad_token_id >= c.vocab_size) r.fail("pad_token_id", "is outside the vocabulary");
  // RoBERTa numbers positions from pad_token_id + 1, so the table must hold at least one real position.
  if (roberta && c.max_position_embeddings <= c.pad_token_id + 1)
    r.fail("max_position_embeddings", "leaves no room for positions after pad_token_id");

  // Labels: id2label wins (HF derives num_labels from it); num_labels alone gives LABEL_i names.
  if (j.contains("id2label") && !j["id2label"].is_null()) {
    const auto& m = j["id2label"];
    if (!m.is_object() || m.empty()) r.fail("id2label", "must be a non-empty object {\"0\": name, ...}");
    c.id2label.assign(m.size(), "");
    std::vector<bool> seen(m.size(), false);  // "1" and "01" name the same id
    for (auto it = m.begin(); it != m.end(); ++it) {
      size_t pos = 0;
      long id = -1;
      try { id = std::stol(it.key(), &pos); } catch (...) { pos = 0; }
      if (pos != it.key().size() || id < 0 || id >= static_cast<long>(m.size()) || seen[static_cast<size_t>(id)] ||
          !it.value().is_string())
        r.fail("id2label", "must map the ids 0..n-1 to names (bad entry \"" + it.key() + "\")");
      c.id2label[static_cast<size_t>(id)] = it.value().get<std::string>();
      seen[static_cast<size_t>(id)] = true;
    }
    if (j.contains("num_labels") && j["num_labels"].is_number_integer() &&
        j["num_labels"].get<int64_t>() != c.num_labels())
      r.fail("num_labels", "contradicts id2label (" + std::to_string(c.num_labels()) + " entries)");
  } else if (j.contains("num_labels")) {
    const int64_t n = r.positive_int("num_labels", std::nullopt);
    // Each label gets a name here and a row in the head: a hostile count must not allocate first.
    if (n > kMaxLabels) r.fail("num_labels", "is over " + std::to_string(kMaxLabels));
    c.id2label.clear();
    for (int64_t i = 0; i < n; ++i) c.id2label.push_back("LABEL_" + std::to_string(i));
  }
  if (j.contains("label2id") && j["label2id"].is_object()) {
    for (auto it = j["label2id"].begin(); it != j["label2id"].end(); ++it) {
      const bool ok = it.value().is_number_integer() && it.value().get<int64_t>() >= 0 &&
                      it.value().get<int64_t>() < c.num_labels() &&
                      c.id2label[static_cast<size_t>(it.value().get<int64_t>())] == it.key();
      if (!ok) r.fail("label2id", "contradicts id2label at \"" + it.key() + "\"");
    }
  }

  for (auto it = j.begin(); it != j.end(); ++it)
    if (!kOwnKeys.count(it.key())) c.extra[it.key()] = it.value();
  return c;
}

ModelConfig ModelConfig::load(const std::string& dir) {
  const std::string path = join_path(dir, "config.json");
  if (!dir_exists(dir)) throw Error(dir + ": model directory not found");
  if (!file_exists(path)) throw Error(path + ": not found (a model directory needs config.json)");
  return from_json(read_json(path), path);
}

nlohmann::json ModelConfig::to_json(const std::string& architecture) const {
  nlohmann::json j = extra;
  j["architectures"] = {architecture};
  j["model_type"] = model_type;
  j["vocab_size"] = vocab_size;
  j["hidden_size"] = hidden_size;
  j["num_hidden_layers"] = num_hidden_layers;
  j["num_attention_heads"] = num_attention_heads;
  j["intermediate_size"] = intermediate_size;
  j["hidden_act"] = hidden_act;
  j["max_position_embeddings"] = max_position_embeddings;
  j["type_vocab_size"] = type_vocab_size;
  j["pad_token_id"] = pad_token_id;
  j["layer_norm_eps"] = layer_norm_eps;
  j["hidden_dropout_prob"] = hidden_dropout_prob;
  j["attention_probs_dropout_prob"] = attention_probs_dropout_prob;
  j["initializer_range"] = initializer_range;
  j["classifier_dropout"] = classifier_dropout ? nlohmann::json(*classifier_dropout) : nlohmann::json(nullptr);
  nlohmann::json id2label_j = nlohmann::json::object(), label2id_j = nlohmann::json::object();
  for (size_t i = 0; i < id2label.size(); ++i) {
    id2label_j[std::to_string(i)] = id2label[i];
    label2id_j[id2label[i]] = i;
  }
  j["id2label"] = id2label_j;
  j["label2id"] = label2id_j;
  return j;
}

void ModelConfig::check_sequence_length(int64_t tokens, const std::string& what) const {
  const int64_t needed = tokens + position_offset();
  if (needed > max_position_embeddings)
    throw Error(what + " (" + std::to_string(tokens) + " tokens) needs " + std::to_string(needed) +
                " position embeddings; the model has " + std::to_string(max_position_embeddings) + " (lower --max-length)");
}

}  // namespace ft::model
