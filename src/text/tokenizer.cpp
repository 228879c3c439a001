#include "text/tokenizer.h"

#include <algorithm>
#include <functional>
#include <limits>
#include <nlohmann/json.hpp>
#include <string_view>
#include <unordered_map>

#include "core/error.h"
#include "core/files.h"
#include "text/unicode.h"

namespace ft::text {

struct Tokenizer::Vocab {
  std::vector<std::string> tokens;
  // Keys view into `tokens`, which never changes after construction; lookups take views of a scratch buffer.
  std::unordered_map<std::string_view, int64_t> ids;
  size_t max_chars = 0;  // longest entry in code points: no longer candidate needs a lookup
};

namespace {

using json = nlohmann::json;
using ojson = nlohmann::ordered_json;

// Per-call buffers, reused across the words of one text so that the hot loop does not allocate.
struct Scratch {
  std::string word_bytes, key;
  std::vector<size_t> offsets;
  std::vector<int64_t> pieces;
};

bool starts_with_at(std::u32string_view text, size_t at, std::u32string_view tok) {
  return text.size() - at >= tok.size() && text.compare(at, tok.size(), tok) == 0;
}

// Splits `text` at the leftmost-longest occurrences of the never-split tokens, like HF's added-token trie.
// `on_text(view)` gets the stretches between them, `on_special(index)` each special token. HF also strips
// whitespace next to a special token; that changes nothing here, as every character str.strip() removes
// is either dropped by cleaning or split on afterwards.
template <class OnText, class OnSpecial>
void split_specials(std::u32string_view text, const std::vector<std::u32string>& specials, OnText on_text,
                    OnSpecial on_special) {
  size_t begin = 0;
  for (size_t i = 0; i < text.size();) {
    size_t hit = specials.size();
    for (size_t s = 0; s < specials.size() && hit == specials.size(); ++s)
      if (starts_with_at(text, i, specials[s])) hit = s;  // longest first, so the first hit is the longest
    if (hit == specials.size()) {
      ++i;
      continue;
    }
    if (i > begin) on_text(text.substr(begin, i - begin));
    on_special(hit);
    i += specials[hit].size();
    begin = i;
  }
  if (begin < text.size()) on_text(text.substr(begin));
}

// A special token in a config file: a string, or an AddedToken object with "content".
std::string token_string(const json& v, const std::string& file, const char* key) {
  if (v.is_string()) return v.get<std::string>();
  if (v.is_object() && v.contains("content") && v["content"].is_string()) return v["content"].get<std::string>();
  throw Error(file + ": '" + key + "' must be a token string or an object with \"content\"");
}

// Null or absent keeps `out`.
void read_token(const json& j, const char* key, const std::string& file, std::string& out) {
  auto it = j.find(key);
  if (it != j.end() && !it->is_null()) out = token_string(*it, file, key);
}

void read_bool(const json& j, const char* key, const std::string& file, bool& out) {
  auto it = j.find(key);
  if (it == j.end()) return;
  if (!it->is_boolean()) throw Error(file + ": '" + key + "' must be true or false");
  out = it->get<bool>();
}

void read_optional_bool(const json& j, const char* key, const std::string& file, std::optional<bool>& out) {
  auto it = j.find(key);
  if (it == j.end()) return;
  if (it->is_null()) {
    out.reset();
  } else if (it->is_boolean()) {
    out = it->get<bool>();
  } else {
    throw Error(file + ": '" + key + "' must be true, false or null");
  }
}

template <class T>
void add_unique(std::vector<T>& list, const T& tok) {
  if (std::find(list.begin(), list.end(), tok) == list.end()) list.push_back(tok);
}

// The keys that tokenizer_config.json and special_tokens_map.json share.
void read_special_tokens(const json& j, const std::string& file, TokenizerOptions& o) {
  read_token(j, "unk_token", file, o.unk);
  read_token(j, "cls_token", file, o.cls);
  read_token(j, "sep_token", file, o.sep);
  read_token(j, "pad_token", file, o.pad);
  read_token(j, "mask_token", file, o.mask);
  // HF registers bos/eos as never-split too; here they are usually [CLS]/[SEP] again.
  for (const char* key : {"bos_token", "eos_token"}) {
    std::string tok;
    read_token(j, key, file, tok);
    if (!tok.empty()) add_unique(o.additional_special_tokens, tok);
  }
  auto it = j.find("additional_special_tokens");
  if (it != j.end() && !it->is_null()) {
    if (!it->is_array()) throw Error(file + ": 'additional_special_tokens' must be a list");
    for (const auto& tok : *it)
      add_unique(o.additional_special_tokens, token_string(tok, file, "additional_special_tokens"));
  }
}

void read_tokenizer_config(const std::string& file, TokenizerOptions& o) {
  const json j = read_json(file);
  if (!j.is_object()) throw Error(file + ": expected a JSON object");
  read_bool(j, "do_lower_case", file, o.do_lower_case);
  read_optional_bool(j, "strip_accents", file, o.strip_accents);
  read_bool(j, "tokenize_chinese_chars", file, o.tokenize_chinese_chars);
  bool basic = true;
  read_bool(j, "do_basic_tokenize", file, basic);
  if (!basic) throw Error(file + ": do_basic_tokenize=false is not supported");
  auto never = j.find("never_split");
  if (never != j.end() && !never->is_null() && !never->empty())
    throw Error(file + ": a non-empty never_split list is not supported");
  auto len = j.find("model_max_length");
  if (len != j.end()) {
    if (!len->is_number() || !(len->get<double>() >= 1))
      throw Error(file + ": 'model_max_length' must be a positive number");
    // HF writes 1e30 for "no limit"; clamped before the conversion, which is undefined past int's range.
    o.model_max_length = static_cast<int>(std::min(len->get<double>(), double(std::numeric_limits<int>::max())));
  }
  read_special_tokens(j, file, o);
}

// vocab.txt as HF's load_vocab reads it: universal newlines, one token a line, a final newline optional.
std::vector<std::string> read_vocab_txt(const std::string& file) {
  const std::string text = read_file(file);
  std::vector<std::string> vocab;
  size_t i = 0;
  while (i < text.size()) {
    const size_t end = text.find_first_of("\r\n", i);
    if (end == std::string::npos) {
      vocab.push_back(text.substr(i));
      break;
    }
    vocab.push_back(text.substr(i, end - i));
    i = end + (text.compare(end, 2, "\r\n") == 0 ? 2 : 1);
  }
  return vocab;
}

// Errors from building the vocabulary get the file they came from.
Tokenizer build(std::vector<std::string> vocab, const TokenizerOptions& opts, const std::string& file) {
  try {
    return Tokenizer::from_vocab(std::move(vocab), opts);
  } catch (const Error& e) {
    throw Error(file + ": " + e.what());
  }
}

// The vocabulary and flags of a tokenizers-library file (WordPiece + BertNormalizer + BertPreTokenizer).
std::vector<std::string> read_tokenizer_json(const std::string& file, TokenizerOptions& o) {
  const json j = read_json(file);
  try {
    const json& model = j.at("model");
    if (model.value("type", "") != "WordPiece")
      throw Error("only a WordPiece model is supported, not '" + model.value("type", "?") + "'");
    const json& normalizer = j.at("normalizer");
    if (!normalizer.is_object() || normalizer.value("type", "") != "BertNormalizer")
      throw Error("only a BertNormalizer is supported");
    const json& pre = j.at("pre_tokenizer");
    if (!pre.is_object() || pre.value("type", "") != "BertPreTokenizer")
      throw Error("only a BertPreTokenizer is supported");
    read_bool(normalizer, "clean_text", file, o.clean_text);
    read_bool(normalizer, "handle_chinese_chars", file, o.tokenize_chinese_chars);
    read_bool(normalizer, "lowercase", file, o.do_lower_case);
    read_optional_bool(normalizer, "strip_accents", file, o.strip_accents);
    read_token(model, "unk_token", file, o.unk);
    o.continuing_prefix = model.value("continuing_subword_prefix", o.continuing_prefix);
    if (const auto max_chars = model.find("max_input_chars_per_word"); max_chars != model.end()) {
      // get<int>() of a float out of int's range is undefined: only integers that fit.
      if (!max_chars->is_number_integer() || max_chars->get<int64_t>() < 1 ||
          max_chars->get<int64_t>() > std::numeric_limits<int>::max())
        throw Error("model.max_input_chars_per_word must be a positive integer");
      o.max_input_chars_per_word = static_cast<int>(max_chars->get<int64_t>());
    }
    for (const auto& added : j.value("added_tokens", json::array()))
      if (added.value("special", false))
        add_unique(o.additional_special_tokens, added.at("content").get<std::string>());

    const json& map = model.at("vocab");
    if (!map.is_object()) throw Error("model.vocab must be an object");
    std::vector<std::string> vocab(map.size());
    std::vector<bool> seen(map.size(), false);
    for (const auto& [tok, id_json] : map.items()) {
      if (!id_json.is_number_integer()) throw Error("model.vocab id of '" + tok + "' is not an integer");
      const int64_t id = id_json.get<int64_t>();
      if (id < 0 || id >= static_cast<int64_t>(vocab.size()) || seen[id])
        throw Error("model.vocab ids must be 0.." + std::to_string(vocab.size() - 1) + " without gaps; '" + tok +
                    "' has " + std::to_string(id));
      vocab[id] = tok;
      seen[id] = true;
    }
    return vocab;
  } catch (const json::exception& e) {
    throw Error(file + ": unexpected tokenizer.json layout (" + e.what() + ")");
  } catch (const Error& e) {
    throw Error(file + ": " + e.what());
  }
}

}  // namespace

Tokenizer::Tokenizer(std::shared_ptr<const Vocab> vocab, TokenizerOptions opts)
    : vocab_(std::move(vocab)), opts_(std::move(opts)) {
  const auto required = [&](const std::string& tok, const char* what) {
    auto it = vocab_->ids.find(tok);
    if (it == vocab_->ids.end()) throw Error(std::string("the vocabulary has no ") + what + " token '" + tok + "'");
    return it->second;
  };
  unk_id_ = required(opts_.unk, "unk");
  cls_id_ = required(opts_.cls, "cls");
  sep_id_ = required(opts_.sep, "sep");
  pad_id_ = required(opts_.pad, "pad");
  mask_id_ = required(opts_.mask, "mask");
  std::vector<std::string> specials = {opts_.unk, opts_.cls, opts_.sep, opts_.pad, opts_.mask};
  // Keep only the extra ones (configs repeat [CLS]/[SEP] as bos/eos, tokenizer.json lists all specials).
  auto& extra = opts_.additional_special_tokens;
  extra.erase(std::remove_if(extra.begin(), extra.end(),
                             [&](const std::string& tok) {
                               return std::find(specials.begin(), specials.end(), tok) != specials.end();
                             }),
              extra.end());
  for (const auto& tok : extra) {
    required(tok, "special");
    add_unique(specials, tok);
  }
  if (opts_.max_input_chars_per_word < 1) throw Error("max_input_chars_per_word must be positive");
  for (const auto& tok : specials) {
    if (tok.empty()) throw Error("special tokens must not be empty");
    std::u32string cps;
    decode_utf8(tok, cps);
    if (std::find(specials_.begin(), specials_.end(), cps) == specials_.end()) specials_.push_back(cps);
  }
  std::stable_sort(specials_.begin(), specials_.end(),
                   [](const std::u32string& a, const std::u32string& b) { return a.size() > b.size(); });
  for (const auto& tok : specials_) special_ids_.push_back(vocab_->ids.at(to_utf8(tok)));
}

Tokenizer Tokenizer::from_vocab(std::vector<std::string> tokens, TokenizerOptions opts) {
  auto vocab = std::make_shared<Vocab>();
  vocab->tokens = std::move(tokens);
  vocab->ids.reserve(vocab->tokens.size());
  std::u32string cps;
  for (size_t i = 0; i < vocab->tokens.size(); ++i) {
    const std::string& tok = vocab->tokens[i];
    const auto where = [i] {
      return "vocabulary entry " + std::to_string(i) + " (line " + std::to_string(i + 1) + ")";
    };
    if (tok.find_first_of("\r\n") != std::string::npos) throw Error(where() + " contains a line break");
    try {
      decode_utf8(tok, cps);
    } catch (const Error& e) {
      throw Error(where() + ": " + e.what());
    }
    vocab->max_chars = std::max(vocab->max_chars, cps.size());
    auto [it, fresh] = vocab->ids.emplace(tok, static_cast<int64_t>(i));
    if (!fresh) throw Error(where() + " '" + tok + "' repeats entry " + std::to_string(it->second));
  }
  return Tokenizer(std::move(vocab), std::move(opts));
}

Tokenizer Tokenizer::from_vocab_file(const std::string& path, TokenizerOptions opts) {
  return build(read_vocab_txt(path), opts, path);
}

Tokenizer Tokenizer::from_dir(const std::string& dir) {
  if (!dir_exists(dir)) throw Error(dir + ": tokenizer directory not found");
  TokenizerOptions opts;
  const std::string tokenizer_json = join_path(dir, "tokenizer.json");
  const std::string source = file_exists(tokenizer_json) ? tokenizer_json : join_path(dir, "vocab.txt");
  std::vector<std::string> vocab =
      source == tokenizer_json ? read_tokenizer_json(source, opts) : read_vocab_txt(source);
  // The config files override tokenizer.json's flags and name the special tokens, as in HF's from_pretrained
  // (BertTokenizerFast rebuilds its normalizer from them); special_tokens_map.json has the last word.
  const std::string config = join_path(dir, "tokenizer_config.json");
  if (file_exists(config)) read_tokenizer_config(config, opts);
  const std::string special_map = join_path(dir, "special_tokens_map.json");
  if (file_exists(special_map)) {
    const json j = read_json(special_map);
    if (!j.is_object()) throw Error(special_map + ": expected a JSON object");
    read_special_tokens(j, special_map, opts);
  }
  return build(std::move(vocab), opts, source);
}

void Tokenizer::split_words(const std::string& text, const std::function<void(std::u32string_view)>& on_word,
                            const std::function<void(size_t)>& on_special) const {
  std::u32string cps, lowered, norm_buf, stripped;
  decode_utf8(text, cps);
  const bool strip = opts_.do_lower_case ? opts_.strip_accents.value_or(true) : opts_.strip_accents.value_or(false);

  // HF's BasicTokenizer on a stretch of text between special tokens.
  const auto basic = [&](std::u32string_view part) {
    norm_buf.clear();
    for (char32_t cp : part) {
      if (opts_.clean_text) {
        if (cp == 0 || cp == 0xFFFD || is_control(cp)) continue;
        if (is_bert_whitespace(cp)) cp = U' ';
      }
      if (opts_.tokenize_chinese_chars && is_cjk_ideograph(cp)) {
        norm_buf.append({U' ', cp, U' '});
      } else {
        norm_buf.push_back(cp);
      }
    }
    const std::u32string_view norm = norm_buf;
    for (size_t i = 0; i < norm.size();) {
      if (is_python_space(norm[i])) {
        ++i;
        continue;
      }
      size_t j = i;
      while (j < norm.size() && !is_python_space(norm[j])) ++j;
      std::u32string_view word = norm.substr(i, j - i);
      i = j;
      // A whitespace-delimited special token (e.g. glued back together by cleaning) stays whole.
      auto special = std::find(specials_.begin(), specials_.end(), word);
      if (special != specials_.end()) {
        on_special(special - specials_.begin());
        continue;
      }
      if (strip) {
        strip_accents(word, stripped);
        word = stripped;
      }
      size_t run = 0;  // start of the current run of non-punctuation
      for (size_t k = 0; k < word.size(); ++k) {
        if (!is_punctuation(word[k])) continue;
        if (k > run) on_word(word.substr(run, k - run));
        on_word(word.substr(k, 1));
        run = k + 1;
      }
      if (run < word.size()) on_word(word.substr(run));
    }
  };

  std::u32string_view text_cps = cps;
  if (opts_.do_lower_case) {
    // HF lowercases everything but the special tokens before it looks for them (so a lowercased
    // stretch can form one), one character at a time.
    split_specials(
        cps, specials_,
        [&](std::u32string_view part) {
          for (char32_t cp : part) append_lower(cp, lowered);
        },
        [&](size_t k) { lowered += specials_[k]; });
    text_cps = lowered;
  }
  split_specials(text_cps, specials_, basic, on_special);
}

void Tokenizer::pre_tokenize(const std::string& text,
                             const std::function<void(std::u32string_view)>& on_word) const {
  split_words(text, on_word, [](size_t) {});
}

void Tokenizer::run(const std::string& text, std::vector<int64_t>& ids) const {
  Scratch s;
  const Vocab& vocab = *vocab_;
  const std::string& prefix = opts_.continuing_prefix;

  // WordPiece on one word: greedy longest match first; an unmatched remainder makes the whole word [UNK].
  const auto wordpiece = [&](std::u32string_view word) {
    if (word.size() > static_cast<size_t>(opts_.max_input_chars_per_word)) {
      ids.push_back(unk_id_);
      return;
    }
    s.word_bytes.clear();
    s.offsets.clear();
    for (char32_t cp : word) {
      s.offsets.push_back(s.word_bytes.size());
      append_utf8(cp, s.word_bytes);
    }
    s.offsets.push_back(s.word_bytes.size());
    s.pieces.clear();
    for (size_t start = 0; start < word.size();) {
      // Candidates are prefixes of `key`: the rest of the word, behind "##" unless at the start.
      std::string_view key = s.word_bytes;
      size_t lead = 0;
      if (start > 0) {
        s.key.assign(prefix).append(s.word_bytes, s.offsets[start]);
        key = s.key;
        lead = prefix.size();
      }
      size_t end = std::min(word.size(), start + vocab.max_chars);
      int64_t found = -1;
      for (; end > start; --end) {
        auto it = vocab.ids.find(key.substr(0, lead + s.offsets[end] - s.offsets[start]));
        if (it != vocab.ids.end()) {
          found = it->second;
          break;
        }
      }
      if (found < 0) {
        ids.push_back(unk_id_);
        return;
      }
      s.pieces.push_back(found);
      start = end;
    }
    ids.insert(ids.end(), s.pieces.begin(), s.pieces.end());
  };

  split_words(text, wordpiece, [&](size_t k) { ids.push_back(special_ids_[k]); });
}

std::vector<std::string> Tokenizer::tokenize(const std::string& text) const {
  std::vector<int64_t> ids;
  run(text, ids);
  std::vector<std::string> out;
  out.reserve(ids.size());
  for (int64_t id : ids) out.push_back(vocab_->tokens[id]);
  return out;
}

std::vector<int64_t> Tokenizer::encode(const std::string& text, int max_length) const {
  if (max_length < 0 || max_length == 1)
    throw Error("max_length must be 0 (no limit) or at least 2, got " + std::to_string(max_length));
  std::vector<int64_t> ids{cls_id_};
  run(text, ids);
  if (max_length > 0 && ids.size() + 1 > static_cast<size_t>(max_length)) ids.resize(max_length - 1);
  ids.push_back(sep_id_);
  return ids;
}

int64_t Tokenizer::token_to_id(const std::string& tok) const {
  auto it = vocab_->ids.find(tok);
  return it == vocab_->ids.end() ? unk_id_ : it->second;
}

const std::string& Tokenizer::id_to_token(int64_t id) const {
  if (id < 0 || id >= static_cast<int64_t>(vocab_->tokens.size()))
    throw Error("token id " + std::to_string(id) + " is outside the vocabulary (size " +
                std::to_string(vocab_->tokens.size()) + ")");
  return vocab_->tokens[id];
}

size_t Tokenizer::vocab_size() const { return vocab_->tokens.size(); }

void Tokenizer::save(const std::string& dir) const {
  make_dirs(dir);
  const auto& o = opts_;
  const json strip = o.strip_accents ? json(*o.strip_accents) : json(nullptr);

  write_file_atomic(join_path(dir, "vocab.txt"), [&](std::ostream& out) {
    for (const auto& tok : vocab_->tokens) out << tok << '\n';
  });

  ojson specials_map = {{"unk_token", o.unk}, {"sep_token", o.sep}, {"pad_token", o.pad},
                        {"cls_token", o.cls}, {"mask_token", o.mask}};
  if (!o.additional_special_tokens.empty()) specials_map["additional_special_tokens"] = o.additional_special_tokens;
  write_file_atomic(join_path(dir, "special_tokens_map.json"), specials_map.dump(2) + "\n");

  ojson config = {{"do_lower_case", o.do_lower_case},
                  {"do_basic_tokenize", true},
                  {"never_split", nullptr},
                  {"tokenize_chinese_chars", o.tokenize_chinese_chars},
                  {"strip_accents", strip},
                  {"model_max_length", o.model_max_length},
                  {"tokenizer_class", "BertTokenizer"}};
  for (const auto& [key, value] : specials_map.items()) config[key] = value;
  write_file_atomic(join_path(dir, "tokenizer_config.json"), config.dump(2) + "\n");

  // tokenizers' serialisation: every special token as a non-normalized added token, in id order.
  std::vector<int64_t> special_ids = special_ids_;
  std::sort(special_ids.begin(), special_ids.end());
  ojson added = ojson::array();
  for (int64_t id : special_ids)
    added.push_back({{"id", id}, {"content", vocab_->tokens[id]}, {"single_word", false}, {"lstrip", false},
                     {"rstrip", false}, {"normalized", false}, {"special", true}});
  const auto special = [](const std::string& tok, int type_id) {
    return ojson{{"SpecialToken", {{"id", tok}, {"type_id", type_id}}}};
  };
  const auto sequence = [](const char* id, int type_id) {
    return ojson{{"Sequence", {{"id", id}, {"type_id", type_id}}}};
  };
  ojson vocab = ojson::object();
  for (size_t i = 0; i < vocab_->tokens.size(); ++i) vocab[vocab_->tokens[i]] = i;
  const ojson tokenizer = {
      {"version", "1.0"},
      {"truncation", nullptr},
      {"padding", nullptr},
      {"added_tokens", added},
      {"normalizer",
       {{"type", "BertNormalizer"},
        {"clean_text", o.clean_text},
        {"handle_chinese_chars", o.tokenize_chinese_chars},
        {"strip_accents", strip},
        {"lowercase", o.do_lower_case}}},
      {"pre_tokenizer", {{"type", "BertPreTokenizer"}}},
      {"post_processor",
       {{"type", "TemplateProcessing"},
        {"single", {special(o.cls, 0), sequence("A", 0), special(o.sep, 0)}},
        {"pair", {special(o.cls, 0), sequence("A", 0), special(o.sep, 0), sequence("B", 1), special(o.sep, 1)}},
        {"special_tokens",
         {{o.cls, {{"id", o.cls}, {"ids", {cls_id_}}, {"tokens", {o.cls}}}},
          {o.sep, {{"id", o.sep}, {"ids", {sep_id_}}, {"tokens", {o.sep}}}}}}}},
      {"decoder", {{"type", "WordPiece"}, {"prefix", o.continuing_prefix}, {"cleanup", true}}},
      {"model",
       {{"type", "WordPiece"},
        {"unk_token", o.unk},
        {"continuing_subword_prefix", o.continuing_prefix},
        {"max_input_chars_per_word", o.max_input_chars_per_word},
        {"vocab", vocab}}}};
  write_file_atomic(join_path(dir, "tokenizer.json"), tokenizer.dump(2) + "\n");
}

}  // namespace ft::text
