// WordPiece vocabulary training: merges worked out by hand on small corpora, stopping rules, special-token
// ids, the alphabet limit, Korean, the round trip through Tokenizer, determinism, errors, and the CLI.
#include <cstdlib>
#include <map>
#include <random>
#include <sstream>

#include "core/error.h"
#include "core/files.h"
#include "test_util.h"
#include "text/tokenizer.h"
#include "text/unicode.h"
#include "text/vocab_trainer.h"

namespace {

using ft::text::TrainedVocab;
using ft::text::VocabTrainer;
using ft::text::VocabTrainerOptions;

using Tokens = std::vector<std::string>;

const Tokens kSpecials = {"[CLS]", "[PAD]", "[SEP]", "[UNK]", "[MASK]"};
// Word counts: low 3, lower 1, lowest 1, newer 2.
const char* kLowCorpus = "low low low lower lowest newer newer";

Tokens with_specials(const Tokens& rest) {
  Tokens all = kSpecials;
  all.insert(all.end(), rest.begin(), rest.end());
  return all;
}

Tokens vocab_of(const ft::text::Tokenizer& tok) {
  Tokens out;
  for (size_t i = 0; i < tok.vocab_size(); ++i) out.push_back(tok.id_to_token(static_cast<int64_t>(i)));
  return out;
}

TrainedVocab train(const std::vector<std::string>& texts, VocabTrainerOptions opts = {}) {
  VocabTrainer trainer(std::move(opts));
  for (const auto& t : texts) trainer.add_text(t);
  return trainer.train();
}

VocabTrainerOptions sized(size_t vocab_size, int64_t min_frequency = 2) {
  VocabTrainerOptions o;
  o.vocab_size = vocab_size;
  o.min_frequency = min_frequency;
  return o;
}

// Alphabet ids 5..: e l n o r s t w, then ##e ##o ##r ##s ##t ##w. Words: l ##o ##w (3), l ##o ##w ##e ##r,
// l ##o ##w ##e ##s ##t, n ##e ##w ##e ##r (2). Merges: (l,##o) 5 beats (##o,##w) 5 on ids → lo;
// (lo,##w) 5 → low; (##e,##r) 3 → ##er; then three pairs at 2, (n,##e) < (##e,##w) < (##w,##er) → ne;
// (##w,##er) 2 beats (ne,##w) 2 → ##wer; (ne,##wer) 2 → newer; everything left has count 1.
const Tokens kLowAlphabet = {"e", "l", "n", "o", "r", "s", "t", "w", "##e", "##o", "##r", "##s", "##t", "##w"};
const Tokens kLowMerges = {"lo", "low", "##er", "ne", "##wer", "newer"};

Tokens low_vocab(const Tokens& extra = {}) {
  Tokens v = with_specials(kLowAlphabet);
  v.insert(v.end(), kLowMerges.begin(), kLowMerges.end());
  v.insert(v.end(), extra.begin(), extra.end());
  return v;
}

TEST(TokenizerTrain, HandWorkedMerges) {
  const TrainedVocab r = train({kLowCorpus}, sized(1000));
  EXPECT_EQ(vocab_of(r.tokenizer), low_vocab());
  EXPECT_EQ(r.alphabet_size, kLowAlphabet.size());
  EXPECT_EQ(r.merges, kLowMerges.size());
  EXPECT_EQ(r.skipped_words, 0u);
}

TEST(TokenizerTrain, MinFrequencyOneMergesUntilNoPairIsLeft) {
  // Left at count 1: (low,##e)=(20,13) (low,##er)=(20,21) (##e,##s)=(13,16) (##s,##t)=(16,17): ##es first;
  // then (low,##er) < (low,##es) < (##es,##t)... → lower, lowes, lowest; then no pair remains.
  const TrainedVocab r = train({kLowCorpus}, sized(1000, 1));
  EXPECT_EQ(vocab_of(r.tokenizer), low_vocab({"##es", "lower", "lowes", "lowest"}));
}

TEST(TokenizerTrain, VocabSizeStopsTraining) {
  Tokens expected = with_specials(kLowAlphabet);
  EXPECT_EQ(vocab_of(train({kLowCorpus}, sized(expected.size())).tokenizer), expected);  // room for no merge
  expected.insert(expected.end(), {"lo", "low"});
  EXPECT_EQ(vocab_of(train({kLowCorpus}, sized(expected.size())).tokenizer), expected);
}

TEST(TokenizerTrain, OverlappingPairsCountEachOccurrence) {
  // b ##a ##a ##a: (##a,##a) occurs twice and wins over (b,##a) once; the merge takes "##a ##a" from the left.
  EXPECT_EQ(vocab_of(train({"baaa"}, sized(100)).tokenizer), with_specials({"a", "b", "##a", "##aa"}));
  // Then b ##aa ##a: (b,##aa)=(6,8) before (##aa,##a)=(8,7) → baa, then baaa.
  EXPECT_EQ(vocab_of(train({"baaa"}, sized(100, 1)).tokenizer),
            with_specials({"a", "b", "##a", "##aa", "baa", "baaa"}));
}

TEST(TokenizerTrain, SpecialTokensHaveFixedIds) {
  const auto tok = train({kLowCorpus}, sized(100)).tokenizer;
  EXPECT_EQ(tok.cls_id(), 0);  // klue/roberta-base's order
  EXPECT_EQ(tok.pad_id(), 1);
  EXPECT_EQ(tok.sep_id(), 2);
  EXPECT_EQ(tok.unk_id(), 3);
  EXPECT_EQ(tok.mask_id(), 4);

  VocabTrainerOptions bert = sized(100);
  bert.special_tokens = {"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "[EXTRA]"};
  const auto b = train({kLowCorpus}, bert).tokenizer;
  EXPECT_EQ(b.pad_id(), 0);
  EXPECT_EQ(b.unk_id(), 1);
  EXPECT_EQ(b.cls_id(), 2);
  EXPECT_EQ(b.sep_id(), 3);
  EXPECT_EQ(b.mask_id(), 4);
  EXPECT_EQ(b.id_to_token(5), "[EXTRA]");
  EXPECT_EQ(b.id_to_token(6), "e");
  EXPECT_EQ(b.tokenize("low[EXTRA]low"), (Tokens{"low", "[EXTRA]", "low"}));  // never split
}

TEST(TokenizerTrain, AlphabetLimitKeepsTheMostFrequentCharacters) {
  VocabTrainerOptions o = sized(100);
  o.limit_alphabet = 3;  // a 5, b 3, c 2, x 1: x goes, and so does the word "x"
  const TrainedVocab r = train({"ab ab ab ac ac x"}, o);
  EXPECT_EQ(vocab_of(r.tokenizer), with_specials({"a", "b", "c", "##b", "##c", "ab", "ac"}));
  EXPECT_EQ(r.skipped_words, 1u);
  EXPECT_EQ(r.tokenizer.tokenize("ab x abc ba"), (Tokens{"ab", "[UNK]", "ab", "##c", "[UNK]"}));  // no ##a

  o.limit_alphabet = 1;  // a and b tie at 2: the smaller code point stays; both words hold b
  const TrainedVocab tie = train({"ab ba"}, o);
  EXPECT_EQ(vocab_of(tie.tokenizer), with_specials({"a", "##a"}));
  EXPECT_EQ(tie.skipped_words, 2u);
}

TEST(TokenizerTrain, KoreanSyllablesStayWhole) {
  // Syllables by code point: 녕 세 안 요 하 (ids 5..9), then ##녕 ##세 ##요 ##하 (10..13). Words: 안 ##녕 ##하 ##세
  // ##요 (2), 안 ##녕, 하 ##세 ##요. (안,##녕)=(7,10) 3 beats (##세,##요)=(11,12) 3 → 안녕; ##세요; then at 2
  // (##하,##세요)=(13,15) beats (안녕,##하)=(14,13) → ##하세요; 안녕하세요; (하,##세요) has 1.
  const TrainedVocab r = train({"안녕하세요 안녕하세요", "안녕 하세요"}, sized(100));
  EXPECT_EQ(vocab_of(r.tokenizer), with_specials({"녕", "세", "안", "요", "하", "##녕", "##세", "##요", "##하", "안녕",
                                                  "##세요", "##하세요", "안녕하세요"}));
  EXPECT_EQ(r.tokenizer.tokenize("안녕하세요 하세요 안녕"), (Tokens{"안녕하세요", "하", "##세요", "안녕"}));
}

TEST(TokenizerTrain, SeesTheWordsTheTokenizerSees) {
  VocabTrainerOptions o = sized(100);
  o.tokenizer.do_lower_case = true;  // and so strips accents
  // Punctuation and CJK ideographs stand alone, control characters go, Café and CAFE are one word: cafe (2),
  // whose pairs tie at 2: (c,##a)=(8,13) → ca, then (##f,##e)=(15,14) before (ca,##f)=(16,15) → ##fe, cafe.
  const TrainedVocab r = train({"Café,CAFE!\x01 漢字"}, o);
  EXPECT_EQ(vocab_of(r.tokenizer),
            with_specials({"!", ",", "a", "c", "e", "f", "字", "漢", "##a", "##e", "##f", "ca", "##fe", "cafe"}));
  EXPECT_TRUE(r.tokenizer.options().do_lower_case);
  EXPECT_EQ(r.tokenizer.tokenize("CAFÉ!漢字"), (Tokens{"cafe", "!", "漢", "字"}));
}

TEST(TokenizerTrain, TrainedVocabTokenizesTheTrainingWords) {
  const auto tok = train({kLowCorpus}, sized(1000)).tokenizer;
  EXPECT_EQ(tok.tokenize(kLowCorpus),
            (Tokens{"low", "low", "low", "low", "##er", "low", "##e", "##s", "##t", "newer", "newer"}));
  EXPECT_EQ(tok.encode("lowest"), (std::vector<int64_t>{0, 20, 13, 16, 17, 2}));
}

TEST(TokenizerTrain, SaveAndLoadRoundTrip) {
  ft::testing::TempDir dir("toktrain");
  const auto tok = train({kLowCorpus, "안녕하세요 안녕하세요"}, sized(1000)).tokenizer;
  tok.save(dir.path);
  const auto loaded = ft::text::Tokenizer::from_dir(dir.path);
  EXPECT_EQ(vocab_of(loaded), vocab_of(tok));
  EXPECT_EQ(loaded.pad_id(), 1);
  EXPECT_EQ(loaded.encode("lowest newer 안녕하세요"), tok.encode("lowest newer 안녕하세요"));
  const auto from_txt = ft::text::Tokenizer::from_vocab_file(dir / "vocab.txt");
  EXPECT_EQ(vocab_of(from_txt), vocab_of(tok));
}

// A corpus large enough for many ties: 300 lines of random words of 1..max_len letters.
std::vector<std::string> random_corpus(unsigned seed, const std::vector<std::string>& letters, unsigned max_len) {
  std::mt19937 rng(seed);
  std::vector<std::string> lines;
  for (int l = 0; l < 300; ++l) {
    std::string line;
    for (int w = 0; w < 8; ++w) {
      for (unsigned n = 1 + rng() % max_len; n > 0; --n) line += letters[rng() % letters.size()];
      line += ' ';
    }
    lines.push_back(line);
  }
  return lines;
}

TEST(TokenizerTrain, DeterministicAndIndependentOfInputOrder) {
  const auto lines = random_corpus(7, {"a", "b", "c", "d", "가", "나", "다"}, 6);
  ft::testing::TempDir a("toktrain_a"), b("toktrain_b");
  const TrainedVocab first = train(lines, sized(300, 1));
  EXPECT_EQ(first.tokenizer.vocab_size(), 300u);
  first.tokenizer.save(a.path);
  auto reversed = lines;
  std::reverse(reversed.begin(), reversed.end());
  train(reversed, sized(300, 1)).tokenizer.save(b.path);
  EXPECT_EQ(ft::read_file(a / "vocab.txt"), ft::read_file(b / "vocab.txt"));
  EXPECT_EQ(ft::read_file(a / "tokenizer.json"), ft::read_file(b / "tokenizer.json"));
}

// The merge loop without the incremental bookkeeping: every pair recounted after every merge. Starts from the
// trained vocabulary's specials and alphabet, so it checks the merges alone.
Tokens naive_merges(const std::vector<std::string>& lines, const Tokens& start, size_t vocab_size,
                    int64_t min_frequency) {
  Tokens vocab = start;
  const auto id_of = [&](const std::string& tok) {
    auto it = std::find(vocab.begin(), vocab.end(), tok);
    if (it == vocab.end()) it = vocab.insert(vocab.end(), tok);
    return static_cast<size_t>(it - vocab.begin());
  };
  std::map<std::string, int64_t> counts;
  for (const auto& line : lines) {
    std::istringstream words(line);
    for (std::string w; words >> w;) ++counts[w];
  }
  std::vector<std::pair<std::vector<size_t>, int64_t>> words;
  for (const auto& [w, c] : counts) {
    std::u32string cps;
    ft::text::decode_utf8(w, cps);
    std::vector<size_t> ids;
    for (size_t i = 0; i < cps.size(); ++i) ids.push_back(id_of((i ? "##" : "") + ft::text::to_utf8(cps.substr(i, 1))));
    words.emplace_back(ids, c);
  }
  while (vocab.size() < vocab_size) {
    std::map<std::pair<size_t, size_t>, int64_t> pairs;  // in key order, so the first maximum has the smallest ids
    for (const auto& [ids, c] : words)
      for (size_t i = 0; i + 1 < ids.size(); ++i) pairs[{ids[i], ids[i + 1]}] += c;
    auto best = pairs.begin();
    for (auto it = pairs.begin(); it != pairs.end(); ++it)
      if (it->second > best->second) best = it;
    if (best == pairs.end() || best->second < min_frequency) break;
    const auto [a, b] = best->first;
    const size_t merged = id_of(vocab[a] + vocab[b].substr(2));
    for (auto& [ids, c] : words) {
      std::vector<size_t> out;
      for (size_t i = 0; i < ids.size(); ++i) {
        const bool hit = i + 1 < ids.size() && ids[i] == a && ids[i + 1] == b;
        out.push_back(hit ? merged : ids[i]);
        i += hit;
      }
      ids = out;
    }
  }
  return vocab;
}

TEST(TokenizerTrain, MatchesANaiveRecountEveryStep) {
  for (unsigned seed = 1; seed <= 5; ++seed)
    for (int64_t min_frequency : {1, 3}) {
      // Few letters and long words: many ties and overlapping pairs.
      const auto lines = random_corpus(seed, {"a", "b", "가"}, 10);
      const TrainedVocab r = train(lines, sized(400, min_frequency));
      const Tokens got = vocab_of(r.tokenizer);
      const Tokens start(got.begin(), got.begin() + kSpecials.size() + r.alphabet_size);
      EXPECT_EQ(got, naive_merges(lines, start, 400, min_frequency)) << "seed " << seed << ", min " << min_frequency;
    }
}

template <class F>
std::string error_of(F f) {
  try {
    f();
  } catch (const ft::Error& e) {
    return e.what();
  }
  return "(no error)";
}

TEST(TokenizerTrain, BadInputGivesClearErrors) {
  VocabTrainer trainer(sized(100));
  EXPECT_NE(error_of([&] { trainer.add_file("/nonexistent/corpus.txt"); }).find("/nonexistent/corpus.txt"),
            std::string::npos);
  EXPECT_NE(error_of([&] { trainer.train(); }).find("empty corpus"), std::string::npos);
  trainer.add_text(" \t ");  // no words either
  EXPECT_NE(error_of([&] { trainer.train(); }).find("empty corpus"), std::string::npos);

  // 5 specials + 14 alphabet entries do not fit in 18.
  const std::string small = error_of([&] { train({kLowCorpus}, sized(18)); });
  EXPECT_NE(small.find("vocab_size 18"), std::string::npos) << small;
  EXPECT_NE(small.find("alphabet of 14"), std::string::npos) << small;

  VocabTrainerOptions no_pad = sized(100);
  no_pad.special_tokens = {"[CLS]", "[SEP]", "[UNK]", "[MASK]"};
  EXPECT_NE(error_of([&] { VocabTrainer t(no_pad); }).find("'[PAD]'"), std::string::npos);

  ft::testing::TempDir dir("toktrain_bad");
  ft::write_file_atomic(dir / "bad.txt", std::string("fine\nbad \xff byte\n"));
  VocabTrainer t(sized(100));
  EXPECT_NE(error_of([&] { t.add_file(dir / "bad.txt"); }).find("bad.txt:2:"), std::string::npos);
}

TEST(TokenizerTrain, AddFileReadsLinesUpToTheLimit) {
  ft::testing::TempDir dir("toktrain_lines");
  ft::write_file_atomic(dir / "c.txt", std::string("low low\r\nlower\nnewer"));  // CRLF, no final newline
  VocabTrainer all(sized(100));
  EXPECT_EQ(all.add_file(dir / "c.txt"), 3u);
  EXPECT_EQ(all.distinct_words(), 3u);
  VocabTrainer two(sized(100));
  EXPECT_EQ(two.add_file(dir / "c.txt", 2), 2u);
  EXPECT_EQ(two.distinct_words(), 2u);  // "low" and "lower": the CR is no character of them
}

TEST(TokenizerTrainCli, WritesALoadableTokenizer) {
  ft::testing::TempDir dir("toktrain_cli");
  ft::write_file_atomic(dir / "a.txt", std::string("low low low lower\nlowest newer\n"));
  ft::write_file_atomic(dir / "b.txt", std::string("newer\nnot read: past --max-lines\n"));
  const std::string cmd = std::string(FT_BINARY) + " tokenizer train --input " + (dir / "a.txt") + " --input " +
                          (dir / "b.txt") + " --max-lines 3 --vocab-size 1000 --output " + (dir / "tok") +
                          " 2>/dev/null";
  ASSERT_EQ(std::system(cmd.c_str()), 0) << cmd;
  EXPECT_EQ(vocab_of(ft::text::Tokenizer::from_dir(dir / "tok")), low_vocab());

  const std::string missing = std::string(FT_BINARY) + " tokenizer train --input " + (dir / "none.txt") +
                              " --vocab-size 100 --output " + (dir / "tok2") + " 2>/dev/null";
  EXPECT_NE(std::system(missing.c_str()), 0);
  EXPECT_FALSE(ft::dir_exists(dir / "tok2"));
}

}  // namespace
