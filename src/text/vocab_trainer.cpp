#include "text/vocab_trainer.h"

#include <algorithm>
#include <fstream>
#include <queue>
#include <tuple>

#include "core/error.h"
#include "text/unicode.h"

namespace ft::text {

namespace {

using Id = uint32_t;
using PairKey = uint64_t;

PairKey pair_key(Id a, Id b) { return (PairKey(a) << 32) | b; }

struct HeapEntry {
  int64_t count;
  Id left, right;
};

// std::priority_queue pops the greatest: the highest count, then the smallest (left, right).
struct HeapLess {
  bool operator()(const HeapEntry& x, const HeapEntry& y) const {
    if (x.count != y.count) return x.count < y.count;
    return std::tie(x.left, x.right) > std::tie(y.left, y.right);
  }
};

// The options of the result: the roles must be special tokens, and the other special tokens never split.
TokenizerOptions result_options(const VocabTrainerOptions& o) {
  TokenizerOptions t = o.tokenizer;
  const std::vector<std::string> roles = {t.cls, t.pad, t.sep, t.unk, t.mask};
  for (const auto& role : roles)
    if (std::find(o.special_tokens.begin(), o.special_tokens.end(), role) == o.special_tokens.end())
      throw Error("special token '" + role + "' has a role in the tokenizer but is not among the special tokens");
  for (const auto& tok : o.special_tokens)
    if (std::find(roles.begin(), roles.end(), tok) == roles.end() &&
        std::find(t.additional_special_tokens.begin(), t.additional_special_tokens.end(), tok) ==
            t.additional_special_tokens.end())
      t.additional_special_tokens.push_back(tok);
  return t;
}

// The vocabulary under construction: strings and their ids.
struct Vocab {
  std::vector<std::string> tokens;
  std::unordered_map<std::string, Id> ids;

  Id intern(const std::string& tok) {
    auto [it, fresh] = ids.emplace(tok, static_cast<Id>(tokens.size()));
    if (fresh) tokens.push_back(tok);
    return it->second;
  }
};

// Pair counts over all words, kept exact as words change, with the words each pair may occur in.
class PairIndex {
 public:
  void add(Id a, Id b, int64_t delta, uint32_t word) {
    const PairKey key = pair_key(a, b);
    int64_t& count = counts_[key];
    count += delta;
    if (count == 0) {
      counts_.erase(key);
      where_.erase(key);
      return;
    }
    if (delta > 0) {
      where_[key].push_back(word);  // duplicates are skipped when the pair is merged
      grown_.push_back(key);
    }
  }
  int64_t count(PairKey key) const {
    auto it = counts_.find(key);
    return it == counts_.end() ? 0 : it->second;
  }
  // The words that may hold the pair; the pair is forgotten.
  std::vector<uint32_t> take(PairKey key) {
    std::vector<uint32_t> words;
    auto it = where_.find(key);
    if (it != where_.end()) words = std::move(it->second);
    where_.erase(key);
    counts_.erase(key);
    return words;
  }
  // Pairs whose count rose since the last call, each once, with their counts now.
  template <class F>
  void drain_grown(F f) {
    std::sort(grown_.begin(), grown_.end());
    grown_.erase(std::unique(grown_.begin(), grown_.end()), grown_.end());
    for (PairKey key : grown_)
      if (int64_t c = count(key); c > 0) f(key, c);
    grown_.clear();
  }

 private:
  std::unordered_map<PairKey, int64_t> counts_;
  std::unordered_map<PairKey, std::vector<uint32_t>> where_;
  std::vector<PairKey> grown_;
};

}  // namespace

VocabTrainer::VocabTrainer(VocabTrainerOptions opts)
    : opts_(std::move(opts)), pre_tokenizer_(Tokenizer::from_vocab(opts_.special_tokens, result_options(opts_))) {
  if (opts_.vocab_size == 0) throw Error("vocab_size must be positive");
}

void VocabTrainer::add_text(const std::string& text) {
  const size_t max_chars = static_cast<size_t>(opts_.tokenizer.max_input_chars_per_word);
  pre_tokenizer_.pre_tokenize(text, [&](std::u32string_view word) {
    if (word.size() <= max_chars) ++words_[std::u32string(word)];
  });
}

size_t VocabTrainer::add_file(const std::string& path, size_t max_lines) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error(path + ": cannot open the file");
  std::string line;
  size_t n = 0;
  while ((max_lines == 0 || n < max_lines) && std::getline(in, line)) {
    ++n;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    try {
      add_text(line);
    } catch (const Error& e) {
      throw Error(path + ":" + std::to_string(n) + ": " + e.what());
    }
  }
  if (in.bad()) throw Error(path + ": read error after line " + std::to_string(n));
  return n;
}

TrainedVocab VocabTrainer::train() const {
  if (words_.empty()) throw Error("no words to learn a vocabulary from (empty corpus)");
  const std::string& prefix = opts_.tokenizer.continuing_prefix;
  Vocab vocab;
  for (const auto& tok : opts_.special_tokens) vocab.intern(tok);

  // Alphabet: character counts, and which characters ever follow a word's first one.
  struct CharStats {
    int64_t count = 0;
    bool inner = false;
  };
  std::unordered_map<char32_t, CharStats> chars;
  for (const auto& [word, count] : words_)
    for (size_t i = 0; i < word.size(); ++i) {
      CharStats& c = chars[word[i]];
      c.count += count;
      c.inner |= i > 0;
    }
  std::vector<std::pair<char32_t, CharStats>> kept(chars.begin(), chars.end());
  std::sort(kept.begin(), kept.end(), [](const auto& x, const auto& y) {
    return x.second.count != y.second.count ? x.second.count > y.second.count : x.first < y.first;
  });
  if (opts_.limit_alphabet > 0 && kept.size() > opts_.limit_alphabet) kept.resize(opts_.limit_alphabet);
  std::sort(kept.begin(), kept.end(), [](const auto& x, const auto& y) { return x.first < y.first; });
  // Symbol ids of each kept character: at a word's start, and after it (absent: never after it).
  std::unordered_map<char32_t, std::pair<Id, Id>> symbol;
  for (const auto& [cp, stats] : kept) symbol[cp].first = vocab.intern(to_utf8(std::u32string(1, cp)));
  for (const auto& [cp, stats] : kept)
    if (stats.inner) symbol[cp].second = vocab.intern(prefix + to_utf8(std::u32string(1, cp)));

  TrainedVocab result{pre_tokenizer_, vocab.tokens.size() - opts_.special_tokens.size(), 0, 0};
  if (vocab.tokens.size() > opts_.vocab_size)
    throw Error("vocab_size " + std::to_string(opts_.vocab_size) + " cannot hold the " +
                std::to_string(opts_.special_tokens.size()) + " special tokens and the alphabet of " +
                std::to_string(result.alphabet_size) + " (" + std::to_string(kept.size()) + " characters and their '" +
                prefix + "' forms): raise the vocabulary size or limit the alphabet");

  // Words as symbol ids with their counts.
  std::vector<std::vector<Id>> words;
  std::vector<int64_t> counts;
  words.reserve(words_.size());
  counts.reserve(words_.size());
  for (const auto& [word, count] : words_) {
    std::vector<Id> ids;
    ids.reserve(word.size());
    for (size_t i = 0; i < word.size(); ++i) {
      auto it = symbol.find(word[i]);
      if (it == symbol.end()) break;
      ids.push_back(i == 0 ? it->second.first : it->second.second);
    }
    if (ids.size() < word.size()) {
      ++result.skipped_words;
      continue;
    }
    words.push_back(std::move(ids));
    counts.push_back(count);
  }

  PairIndex pairs;
  for (uint32_t w = 0; w < words.size(); ++w)
    for (size_t i = 0; i + 1 < words[w].size(); ++i) pairs.add(words[w][i], words[w][i + 1], counts[w], w);
  std::priority_queue<HeapEntry, std::vector<HeapEntry>, HeapLess> heap;
  const auto push_grown = [&] { pairs.drain_grown([&](PairKey k, int64_t c) { heap.push({c, Id(k >> 32), Id(k)}); }); };
  push_grown();  // every pair, as all have grown from zero

  std::vector<uint32_t> visited(words.size(), 0);  // the merge step that last rewrote each word
  uint32_t step = 0;
  const int64_t min_count = std::max<int64_t>(opts_.min_frequency, 1);
  while (vocab.tokens.size() < opts_.vocab_size && !heap.empty()) {
    const HeapEntry top = heap.top();
    heap.pop();
    const PairKey key = pair_key(top.left, top.right);
    const int64_t now = pairs.count(key);
    if (now != top.count) {
      if (now > 0) heap.push({now, top.left, top.right});
      continue;
    }
    if (top.count < min_count) break;

    const std::string& right = vocab.tokens[top.right];
    const size_t cut = right.compare(0, prefix.size(), prefix) == 0 ? prefix.size() : 0;
    const Id merged = vocab.intern(vocab.tokens[top.left] + right.substr(cut));
    ++step;
    ++result.merges;
    for (uint32_t w : pairs.take(key)) {
      if (visited[w] == step) continue;
      visited[w] = step;
      // Rewrite in place, left to right; `out` trails `i`, so word[out - 1] is the already rewritten left
      // neighbour and word[i + 2] the untouched right one.
      std::vector<Id>& word = words[w];
      const int64_t c = counts[w];
      size_t out = 0;
      for (size_t i = 0; i < word.size();) {
        if (i + 1 < word.size() && word[i] == top.left && word[i + 1] == top.right) {
          if (out > 0) {
            pairs.add(word[out - 1], top.left, -c, w);
            pairs.add(word[out - 1], merged, c, w);
          }
          if (i + 2 < word.size()) {
            pairs.add(top.right, word[i + 2], -c, w);
            pairs.add(merged, word[i + 2], c, w);
          }
          word[out++] = merged;
          i += 2;
        } else {
          word[out++] = word[i++];
        }
      }
      word.resize(out);
    }
    pairs.take(key);  // overlapping occurrences ("##a ##a ##a") may have re-counted the merged pair
    push_grown();
  }

  result.tokenizer = Tokenizer::from_vocab(std::move(vocab.tokens), pre_tokenizer_.options());
  return result;
}

}  // namespace ft::text
