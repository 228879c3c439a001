// WordPiece tokenizer that reproduces Hugging Face's slow `BertTokenizer` as `from_pretrained` loads it
// (transformers 4.28): special tokens are split out of the raw text first, then BasicTokenizer
// (cleaning, CJK spacing, whitespace split, optional lowercase/accent stripping, punctuation split),
// then greedy longest-match-first WordPiece. Pure C++: no torch here.
#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace ft::text {

struct TokenizerOptions {
  bool do_lower_case = false;
  std::optional<bool> strip_accents;  // unset: strip exactly when lowercasing (HF's default)
  bool tokenize_chinese_chars = true;
  bool clean_text = true;  // the slow tokenizer always cleans; only a tokenizer.json can turn it off
  std::string unk = "[UNK]", cls = "[CLS]", sep = "[SEP]", pad = "[PAD]", mask = "[MASK]";
  // Further never-split special tokens (HF's bos/eos when they differ from cls/sep, additional_special_tokens).
  std::vector<std::string> additional_special_tokens;
  int model_max_length = 512;
  std::string continuing_prefix = "##";
  int max_input_chars_per_word = 100;
};

class Tokenizer {
 public:
  // tokenizer.json if present (WordPiece model + BertNormalizer/BertPreTokenizer), else vocab.txt;
  // tokenizer_config.json and special_tokens_map.json (both optional) override the special tokens and flags.
  static Tokenizer from_dir(const std::string& dir);
  // Entries are ids 0..n-1; every special token must be present and no entry may repeat.
  static Tokenizer from_vocab(std::vector<std::string> vocab, TokenizerOptions opts);
  // A vocab.txt read as HF's load_vocab does (one token a line, LF/CRLF/CR), with the given options.
  static Tokenizer from_vocab_file(const std::string& path, TokenizerOptions opts = {});

  // Word pieces without [CLS]/[SEP]. Invalid UTF-8 throws ft::Error naming the byte offset.
  std::vector<std::string> tokenize(const std::string& text) const;
  // The words WordPiece would get from `text`, in order: special tokens split out (and not passed on),
  // then cleaning, CJK spacing, optional lowercasing/accent stripping, whitespace and punctuation splitting.
  // Each view is valid during its call only. Vocabulary trainers use this, so they see what tokenize() sees.
  void pre_tokenize(const std::string& text, const std::function<void(std::u32string_view)>& on_word) const;
  // [CLS] pieces [SEP]; max_length > 0 drops trailing pieces so that the total is ≤ max_length (≥ 2).
  std::vector<int64_t> encode(const std::string& text, int max_length = 0) const;

  int64_t token_to_id(const std::string& tok) const;  // unk id if absent
  const std::string& id_to_token(int64_t id) const;   // throws ft::Error when out of range
  int64_t cls_id() const { return cls_id_; }
  int64_t sep_id() const { return sep_id_; }
  int64_t pad_id() const { return pad_id_; }
  int64_t unk_id() const { return unk_id_; }
  int64_t mask_id() const { return mask_id_; }
  size_t vocab_size() const;
  const TokenizerOptions& options() const { return opts_; }

  // vocab.txt, tokenizer_config.json, special_tokens_map.json and tokenizer.json (WordPiece, BertNormalizer,
  // BertPreTokenizer, TemplateProcessing [CLS] $A [SEP]) in the formats BertTokenizer/BertTokenizerFast read,
  // each written atomically.
  void save(const std::string& dir) const;

 private:
  struct Vocab;
  Tokenizer(std::shared_ptr<const Vocab> vocab, TokenizerOptions opts);
  // pre_tokenize's words to `on_word`, and each special token (an index into specials_) to `on_special`.
  void split_words(const std::string& text, const std::function<void(std::u32string_view)>& on_word,
                   const std::function<void(size_t)>& on_special) const;
  // The whole pipeline: appends the piece ids of `text` (no [CLS]/[SEP]) to `ids`.
  void run(const std::string& text, std::vector<int64_t>& ids) const;

  std::shared_ptr<const Vocab> vocab_;  // immutable, so copies of a Tokenizer share it
  TokenizerOptions opts_;
  std::vector<std::u32string> specials_;  // never-split tokens as code points, longest first
  std::vector<int64_t> special_ids_;       // their ids, in the same order
  int64_t cls_id_, sep_id_, pad_id_, unk_id_, mask_id_;
};

}  // namespace ft::text
