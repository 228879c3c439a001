// Learns a WordPiece vocabulary from plain text the way Hugging Face tokenizers' WordPieceTrainer does: its
// BPE trainer with continuing-subword prefix "##", whose vocabulary becomes the WordPiece vocabulary.
//
//  1. Words. Each text goes through Tokenizer::pre_tokenize with the options of the tokenizer to be built,
//     so training sees exactly the words tokenize() will see; equal words are counted once with a count.
//     Words over max_input_chars_per_word characters are skipped (WordPiece makes them [UNK] whole).
//  2. Ids 0..: the special tokens, in the given order (default [CLS] [PAD] [SEP] [UNK] [MASK], as in
//     klue/roberta-base, so pad_token_id=1 of a RoBERTa config fits).
//  3. Alphabet. Characters are counted over all words (times each word's count); the limit_alphabet most
//     frequent are kept, ties going to the smaller code point (HF leaves that tie to an unstable sort).
//     Next ids: the kept characters by code point, then "##c" for every kept c that occurs after the start
//     of some word, by code point (HF: in hash-map order, which may differ between runs). A word is then
//     the ids of its first character as is and of the others as "##c". Words with a character outside the
//     alphabet take no part in merges (WordPiece makes them [UNK] whole; HF instead drops the character
//     and may merge across the gap).
//  4. Merges. Every adjacent pair of ids in every word is counted, times the word's count (each
//     occurrence counts, even overlapping ones: "##a ##a ##a" holds (##a, ##a) twice). Repeatedly the
//     pair with the highest count wins, a tie going to the smaller (left id, right id) as in HF (so older
//     tokens win), until the vocabulary has vocab_size entries or the top count is below min_frequency.
//     Every word replaces the pair's occurrences, left to right without overlap, by the merged token:
//     left + right without its "##" ("a"+"##b" → "ab", "##a"+"##b" → "##ab"), a new id unless that
//     string already has one.
//  Speed: only the words holding the merged pair change, and only their pairs' counts are updated; a
//  max-heap keyed by (count, -left, -right) holds each pair at a count no lower than its current one, and
//  a popped pair whose count has since dropped goes back in with the current count.
// Pure C++: no torch here.
#pragma once
#include <cstdint>
#include <string>
#include <unordered_map>
#include <vector>

#include "text/tokenizer.h"

namespace ft::text {

struct VocabTrainerOptions {
  size_t vocab_size = 30000;     // special tokens and alphabet included
  int64_t min_frequency = 2;     // a pair seen fewer times is never merged
  size_t limit_alphabet = 1000;  // 0: keep every character
  // Ids 0..n-1 in this order. Each role in `tokenizer` (cls, pad, sep, unk, mask) must name one of them;
  // the others become never-split additional special tokens.
  std::vector<std::string> special_tokens = {"[CLS]", "[PAD]", "[SEP]", "[UNK]", "[MASK]"};
  TokenizerOptions tokenizer;  // normalisation flags and special-token roles of the result
};

struct TrainedVocab {
  Tokenizer tokenizer;
  size_t alphabet_size = 0;  // characters plus their "##" forms
  size_t merges = 0;         // merge steps, including any that reproduced an existing token
  size_t skipped_words = 0;  // distinct words left out for a character outside the alphabet
};

class VocabTrainer {
 public:
  // Throws ft::Error when the options are inconsistent (a role not among the special tokens, ...).
  explicit VocabTrainer(VocabTrainerOptions opts);

  // Counts the words of one text. Invalid UTF-8 throws ft::Error.
  void add_text(const std::string& text);
  // Each line of a text file (LF or CRLF) is one text; reads at most max_lines lines (0: all) and returns
  // how many it read. Errors name the file and line.
  size_t add_file(const std::string& path, size_t max_lines = 0);

  size_t distinct_words() const { return words_.size(); }

  // Runs the merges (see the top of this file). Throws ft::Error when no word was added or when vocab_size
  // cannot hold the special tokens and the alphabet.
  TrainedVocab train() const;

 private:
  VocabTrainerOptions opts_;
  Tokenizer pre_tokenizer_;  // the special tokens only: used for pre_tokenize and option checks
  std::unordered_map<std::u32string, int64_t> words_;
};

}  // namespace ft::text
