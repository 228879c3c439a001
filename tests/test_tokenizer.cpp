#include <gtest/gtest.h>
#include <zlib.h>

#include <cstdlib>
#include <filesystem>
#include <limits>
#include <memory>
#include <nlohmann/json.hpp>
#include <sstream>

#include "core/error.h"
#include "core/files.h"
#include "data/dataset.h"
#include "test_util.h"
#include "text/tokenizer.h"

using ft::testing::data_path;
using ft::testing::nsmc_path;
using ft::text::Tokenizer;
using ft::text::TokenizerOptions;

namespace {

// A golden's text. The one over all of NSMC's test split is committed gzipped (8 MB → 2 MB); zlib
// reads plain files unchanged, so every golden goes through here.
std::string read_golden(const std::string& path) {
  const std::unique_ptr<gzFile_s, int (*)(gzFile)> in(gzopen(path.c_str(), "rb"), gzclose);
  if (!in) throw std::runtime_error("cannot open " + path);
  std::string text;
  char buf[1 << 16];
  int n;
  while ((n = gzread(in.get(), buf, sizeof buf)) > 0) text.append(buf, static_cast<size_t>(n));
  if (n < 0) throw std::runtime_error(path + ": " + gzerror(in.get(), &n));
  return text;
}

// Compares every row of a golden JSONL with our ids (and tokens where the golden has them).
void expect_golden(const Tokenizer& tok, const std::string& tsv, const std::string& jsonl) {
  const auto docs = ft::data::read_text_column(tsv, "document");
  const auto ids = ft::data::read_text_column(tsv, "id");
  std::istringstream in(read_golden(jsonl));
  std::string line;
  size_t row = 0, mismatches = 0;
  while (std::getline(in, line)) {
    const auto golden = nlohmann::json::parse(line);
    ASSERT_LT(row, docs.texts.size()) << jsonl << " has more rows than " << tsv;
    ASSERT_EQ(golden.at("id").get<std::string>(), ids.texts[row]) << jsonl << " row " << row;
    const auto want = golden.at("input_ids").get<std::vector<int64_t>>();
    const auto got = tok.encode(docs.texts[row]);
    if (got != want && ++mismatches <= 5) {
      ADD_FAILURE() << jsonl << " row " << row << " (" << ids.texts[row] << "): " << docs.texts[row]
                    << "\n  want " << nlohmann::json(want) << "\n  got  " << nlohmann::json(got);
    }
    if (golden.contains("tokens")) {
      std::vector<std::string> tokens;
      for (int64_t id : got) tokens.push_back(tok.id_to_token(id));
      EXPECT_EQ(tokens, golden["tokens"].get<std::vector<std::string>>()) << jsonl << " row " << row;
    }
    ++row;
  }
  EXPECT_GT(row, 0u);
  EXPECT_EQ(mismatches, 0u) << "of " << row << " rows";
}

}  // namespace

TEST(TokenizerGolden, NsmcTestKlue) {
  const auto tok = Tokenizer::from_dir(data_path("klue/roberta-base"));
  expect_golden(tok, nsmc_path("ratings_test.txt"), data_path("tokenizer/nsmc_test.klue.jsonl.gz"));
}

TEST(TokenizerGolden, EdgeCasesKlue) {
  const auto tok = Tokenizer::from_dir(data_path("klue/roberta-base"));
  EXPECT_TRUE(tok.options().additional_special_tokens.empty());  // its bos/eos are [CLS]/[SEP]
  expect_golden(tok, data_path("tokenizer/edge_cases.tsv"), data_path("tokenizer/edge_cases.klue.jsonl"));
}

TEST(TokenizerGolden, NsmcTest500Synthetic) {
  const auto tok = Tokenizer::from_vocab_file(data_path("tokenizer/synthetic_vocab.txt"));
  expect_golden(tok, nsmc_path("ratings_test.txt"), data_path("tokenizer/nsmc_test500.synthetic.jsonl"));
}

TEST(TokenizerGolden, EdgeCasesSynthetic) {
  const auto tok = Tokenizer::from_vocab_file(data_path("tokenizer/synthetic_vocab.txt"));
  expect_golden(tok, data_path("tokenizer/edge_cases.tsv"), data_path("tokenizer/edge_cases.synthetic.jsonl"));
}

namespace {

using Pieces = std::vector<std::string>;

const std::vector<std::string> kVocab = {
    "[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "hello", "hel", "##lo", "world", "un",  "##aff", "##able",
    "a",     "##a",   "b",     "##b",   "x",      ",",     "!",   ".",    "$",     "(",   ")",      "[",
    "]",     "…",     "中",    "文",    "한국",   "##어",  "cafe", "café", "Cafe",  "cls", "e",      "i",
};

Tokenizer small(TokenizerOptions opts = {}) { return Tokenizer::from_vocab(kVocab, std::move(opts)); }

std::string temp_dir(const std::string& name) {
  auto dir = std::filesystem::temp_directory_path() / ("ft_tok_" + name + "_" + std::to_string(::getpid()));
  ft::remove_tree(dir);
  std::filesystem::create_directories(dir);
  return dir.string();
}

// The message of the ft::Error that `f` throws (fails the test if it throws none).
template <class F>
std::string error_of(F f) {
  try {
    f();
  } catch (const ft::Error& e) {
    return e.what();
  }
  ADD_FAILURE() << "expected an ft::Error";
  return "";
}

}  // namespace

TEST(TokenizerRules, CleaningDropsControlAndFormatCharacters) {
  const auto tok = small();
  // U+200B (Cf), U+0000, U+FFFD, DEL (Cc), U+E000 (Co), U+0378 (unassigned) vanish and glue their neighbours.
  EXPECT_EQ(tok.tokenize("hel\u200Blo"), Pieces({"hello"}));
  EXPECT_EQ(tok.tokenize(std::string("hel\0lo", 6)), Pieces({"hello"}));
  EXPECT_EQ(tok.tokenize("hel\uFFFD\x7Flo"), Pieces({"hello"}));
  EXPECT_EQ(tok.tokenize("hel\uE000l\u0378o"), Pieces({"hello"}));
  EXPECT_EQ(tok.tokenize("a\u0085b"), Pieces({"a", "##b"}));  // NEL is Cc: dropped, not a space
}

TEST(TokenizerRules, WhitespaceSplitsLikePython) {
  const auto tok = small();
  EXPECT_EQ(tok.tokenize(" \t hello\nworld\r\n"), Pieces({"hello", "world"}));
  EXPECT_EQ(tok.tokenize("a\u3000b\u00A0a\u2003b"), Pieces({"a", "b", "a", "b"}));  // category Zs
  EXPECT_EQ(tok.tokenize("a\u2028b\u2029a"), Pieces({"a", "b", "a"}));            // str.split() too
  EXPECT_TRUE(tok.tokenize(" \u3000\n").empty());
  EXPECT_EQ(tok.encode(""), std::vector<int64_t>({2, 3}));
}

TEST(TokenizerRules, CjkIdeographsStandAloneButHangulDoesNot) {
  const auto tok = small();
  EXPECT_EQ(tok.tokenize("中文한국어"), Pieces({"中", "文", "한국", "##어"}));
  TokenizerOptions no_cjk;
  no_cjk.tokenize_chinese_chars = false;
  EXPECT_EQ(small(no_cjk).tokenize("中文"), Pieces({"[UNK]"}));
}

TEST(TokenizerRules, PunctuationIsSplitOff) {
  const auto tok = small();
  EXPECT_EQ(tok.tokenize("hello,world!"), Pieces({"hello", ",", "world", "!"}));
  // '$' is a symbol (Sc) but every non-alphanumeric ASCII character counts; '…' is Po.
  EXPECT_EQ(tok.tokenize("$a…(b)"), Pieces({"$", "a", "…", "(", "b", ")"}));
  EXPECT_EQ(tok.tokenize("a..."), Pieces({"a", ".", ".", "."}));
}

TEST(TokenizerRules, LowercaseAndAccentStripping) {
  EXPECT_EQ(small().tokenize("café Cafe"), Pieces({"café", "Cafe"}));  // the defaults touch neither
  TokenizerOptions lower;
  lower.do_lower_case = true;
  EXPECT_EQ(small(lower).tokenize("CAFÉ HeLLo"), Pieces({"cafe", "hello"}));
  // Python's lower() maps U+0130 to "i" + U+0307, whose mark stripping then removes.
  EXPECT_EQ(small(lower).tokenize("\u0130"), Pieces({"i"}));
  // HF's NFD also splits Hangul syllables into jamo, so lowercasing spoils Korean words.
  EXPECT_EQ(small(lower).tokenize("한국"), Pieces({"[UNK]"}));
  TokenizerOptions keep_accents = lower;
  keep_accents.strip_accents = false;
  EXPECT_EQ(small(keep_accents).tokenize("CAFÉ 한국"), Pieces({"café", "한국"}));
  TokenizerOptions strip_only;
  strip_only.strip_accents = true;
  EXPECT_EQ(small(strip_only).tokenize("Café e\u0301"), Pieces({"Cafe", "e"}));
}

TEST(TokenizerRules, SpecialTokensAreNeverSplit) {
  const auto tok = small();
  EXPECT_EQ(tok.tokenize("[SEP]x a[UNK]b [MASK]"), Pieces({"[SEP]", "x", "a", "[UNK]", "b", "[MASK]"}));
  // Cleaning can glue a special token back together: it then stays whole as well.
  EXPECT_EQ(tok.tokenize("[SE\u200BP]"), Pieces({"[SEP]"}));
  EXPECT_EQ(tok.tokenize("[sep]"), Pieces({"[", "[UNK]", "]"}));
  TokenizerOptions lower;
  lower.do_lower_case = true;
  EXPECT_EQ(small(lower).tokenize("[CLS] HELLO [cls]"), Pieces({"[CLS]", "hello", "[", "cls", "]"}));
}

TEST(TokenizerRules, WordPieceIsGreedyLongestMatchFirst) {
  const auto tok = small();
  EXPECT_EQ(tok.tokenize("unaffable"), Pieces({"un", "##aff", "##able"}));
  EXPECT_EQ(tok.tokenize("hello hello"), Pieces({"hello", "hello"}));  // not hel ##lo
  EXPECT_EQ(tok.tokenize("hellox"), Pieces({"[UNK]"}));               // an unmatched rest spoils the word
  EXPECT_EQ(tok.tokenize("aab"), Pieces({"a", "##a", "##b"}));
}

TEST(TokenizerRules, WordsOverTheCharacterLimitAreUnknown) {
  const auto tok = small();
  const auto n_a = [](size_t n) {
    std::string s;
    for (size_t i = 0; i < n; ++i) s += "a";
    return s;
  };
  EXPECT_EQ(tok.tokenize(n_a(100)).size(), 100u);
  EXPECT_EQ(tok.tokenize(n_a(101)), Pieces({"[UNK]"}));
  // The limit counts code points, not bytes: 60 three-byte characters are within it.
  std::string wide;
  for (int i = 0; i < 60; ++i) wide += "…";
  EXPECT_EQ(tok.tokenize(wide).size(), 60u);
  TokenizerOptions tight;
  tight.max_input_chars_per_word = 3;
  EXPECT_EQ(small(tight).tokenize("aaa aaaa"), Pieces({"a", "##a", "##a", "[UNK]"}));
}

TEST(TokenizerRules, EncodeAddsSpecialsAndTruncates) {
  const auto tok = small();
  EXPECT_EQ(tok.encode("hello world !"), std::vector<int64_t>({2, 5, 8, 18, 3}));
  EXPECT_EQ(tok.encode("hello world !", 4), std::vector<int64_t>({2, 5, 8, 3}));
  EXPECT_EQ(tok.encode("hello world !", 5), tok.encode("hello world !"));
  EXPECT_EQ(tok.encode("hello world !", 50), tok.encode("hello world !"));
  EXPECT_EQ(tok.encode("hello", 2), std::vector<int64_t>({2, 3}));
  EXPECT_THROW(tok.encode("hello", 1), ft::Error);
  EXPECT_THROW(tok.encode("hello", -1), ft::Error);
}

TEST(TokenizerRules, IdsAndSpecials) {
  const auto tok = small();
  EXPECT_EQ(tok.vocab_size(), kVocab.size());
  EXPECT_EQ(tok.pad_id(), 0);
  EXPECT_EQ(tok.unk_id(), 1);
  EXPECT_EQ(tok.cls_id(), 2);
  EXPECT_EQ(tok.sep_id(), 3);
  EXPECT_EQ(tok.mask_id(), 4);
  EXPECT_EQ(tok.token_to_id("world"), 8);
  EXPECT_EQ(tok.token_to_id("nope"), tok.unk_id());
  EXPECT_EQ(tok.id_to_token(8), "world");
  EXPECT_THROW(tok.id_to_token(static_cast<int64_t>(kVocab.size())), ft::Error);
}

TEST(TokenizerRules, InvalidUtf8IsAnErrorNamingTheOffset) {
  const auto tok = small();
  EXPECT_NE(error_of([&] { tok.tokenize("abc\xFF"); }).find("invalid UTF-8 at byte offset 3"), std::string::npos);
  EXPECT_THROW(tok.encode("\xC0\x80"), ft::Error);          // overlong NUL
  EXPECT_THROW(tok.encode("\xED\xA0\x80"), ft::Error);      // a surrogate
  EXPECT_THROW(tok.encode("\xE4\xB8"), ft::Error);          // truncated sequence
}

TEST(TokenizerLoad, SaveThenFromDirGivesIdenticalIds) {
  TokenizerOptions opts;
  opts.do_lower_case = true;
  opts.strip_accents = false;
  opts.model_max_length = 128;
  const auto tok = small(opts);
  const std::string dir = temp_dir("save");
  tok.save(dir);
  for (const char* f : {"vocab.txt", "tokenizer_config.json", "special_tokens_map.json", "tokenizer.json"})
    EXPECT_TRUE(ft::file_exists(ft::join_path(dir, f))) << f;
  const std::vector<std::string> texts = {"[CLS] HELLO, wORLD! café 中文한국어", "unaffable\u200B x [MASK]", ""};
  const auto check = [&](const Tokenizer& loaded) {
    EXPECT_EQ(loaded.vocab_size(), tok.vocab_size());
    EXPECT_TRUE(loaded.options().do_lower_case);
    EXPECT_EQ(loaded.options().strip_accents, std::optional<bool>(false));
    EXPECT_EQ(loaded.options().model_max_length, 128);
    for (const auto& t : texts) EXPECT_EQ(loaded.encode(t), tok.encode(t)) << t;
  };
  check(Tokenizer::from_dir(dir));  // through tokenizer.json
  EXPECT_TRUE(Tokenizer::from_dir(dir).options().additional_special_tokens.empty());
  std::filesystem::remove(ft::join_path(dir, "tokenizer.json"));
  check(Tokenizer::from_dir(dir));  // through vocab.txt + tokenizer_config.json
  ft::remove_tree(dir);
}

TEST(TokenizerLoad, SavedTokenizerJsonHasHfLayout) {
  const std::string dir = temp_dir("layout");
  small().save(dir);
  const auto j = ft::read_json(ft::join_path(dir, "tokenizer.json"));
  EXPECT_EQ(j["model"]["type"], "WordPiece");
  EXPECT_EQ(j["model"]["vocab"]["world"], 8);
  EXPECT_EQ(j["normalizer"]["type"], "BertNormalizer");
  EXPECT_TRUE(j["normalizer"]["strip_accents"].is_null());
  EXPECT_EQ(j["pre_tokenizer"]["type"], "BertPreTokenizer");
  EXPECT_EQ(j["post_processor"]["single"][0]["SpecialToken"]["id"], "[CLS]");
  EXPECT_EQ(j["post_processor"]["special_tokens"]["[SEP]"]["ids"], nlohmann::json::array({3}));
  EXPECT_EQ(j["added_tokens"].size(), 5u);
  EXPECT_EQ(ft::read_file(ft::join_path(dir, "vocab.txt")).substr(0, 12), "[PAD]\n[UNK]\n");
  EXPECT_EQ(ft::read_json(ft::join_path(dir, "tokenizer_config.json"))["tokenizer_class"], "BertTokenizer");
  ft::remove_tree(dir);
}

TEST(TokenizerLoad, TokenizerJsonAsTheTokenizersLibraryWritesIt) {
  const std::string dir = temp_dir("json");
  nlohmann::json vocab = nlohmann::json::object();
  for (size_t i = 0; i < kVocab.size(); ++i) vocab[kVocab[i]] = i;
  const nlohmann::json j = {
      {"version", "1.0"},
      {"truncation", nullptr},
      {"padding", nullptr},
      {"added_tokens", nlohmann::json::array()},
      {"normalizer",
       {{"type", "BertNormalizer"}, {"clean_text", true}, {"handle_chinese_chars", true},
        {"strip_accents", nullptr}, {"lowercase", true}}},
      {"pre_tokenizer", {{"type", "BertPreTokenizer"}}},
      {"post_processor", nullptr},
      {"decoder", nullptr},
      {"model",
       {{"type", "WordPiece"}, {"unk_token", "[UNK]"}, {"continuing_subword_prefix", "##"},
        {"max_input_chars_per_word", 100}, {"vocab", vocab}}}};
  ft::write_json_atomic(ft::join_path(dir, "tokenizer.json"), j);
  const auto tok = Tokenizer::from_dir(dir);
  EXPECT_TRUE(tok.options().do_lower_case);
  EXPECT_EQ(tok.tokenize("HELLO Café"), Pieces({"hello", "cafe"}));
  EXPECT_EQ(tok.encode("world"), std::vector<int64_t>({2, 8, 3}));
  ft::remove_tree(dir);
}

TEST(TokenizerLoad, VocabTxtWithCrlfLineEnds) {
  const std::string dir = temp_dir("crlf");
  std::string text;
  for (const auto& t : kVocab) text += t + "\r\n";
  ft::write_file_atomic(ft::join_path(dir, "vocab.txt"), text);
  const auto tok = Tokenizer::from_dir(dir);
  EXPECT_EQ(tok.vocab_size(), kVocab.size());
  EXPECT_EQ(tok.encode("hello world"), small().encode("hello world"));
  ft::remove_tree(dir);
}

TEST(TokenizerLoad, ConfigFilesSetFlagsAndSpecialTokens) {
  const std::string dir = temp_dir("config");
  std::string text;
  for (auto t : kVocab) text += (t == "[MASK]" ? "<mask>" : t) + "\n";
  ft::write_file_atomic(ft::join_path(dir, "vocab.txt"), text);
  ft::write_json_atomic(ft::join_path(dir, "tokenizer_config.json"),
                        {{"do_lower_case", true}, {"strip_accents", nullptr}, {"model_max_length", 1e30},
                         {"mask_token", "[MASK]"}});
  ft::write_json_atomic(ft::join_path(dir, "special_tokens_map.json"),
                        {{"mask_token", {{"content", "<mask>"}, {"lstrip", true}}},
                         {"additional_special_tokens", {"hel"}}});
  const auto tok = Tokenizer::from_dir(dir);
  EXPECT_TRUE(tok.options().do_lower_case);
  EXPECT_EQ(tok.options().mask, "<mask>");  // special_tokens_map.json wins
  EXPECT_EQ(tok.mask_id(), 4);
  EXPECT_EQ(tok.options().model_max_length, std::numeric_limits<int>::max());
  EXPECT_EQ(tok.tokenize("x<mask>WORLD"), Pieces({"x", "<mask>", "world"}));
  EXPECT_EQ(tok.options().additional_special_tokens, Pieces({"hel"}));
  EXPECT_EQ(tok.tokenize("xhelb"), Pieces({"x", "hel", "b"}));
  ft::remove_tree(dir);
}

TEST(TokenizerErrors, MissingDirectoryOrVocabNamesThePath) {
  EXPECT_NE(error_of([] { Tokenizer::from_dir("/nonexistent/tok"); }).find("/nonexistent/tok"), std::string::npos);
  const std::string dir = temp_dir("empty");
  EXPECT_NE(error_of([&] { Tokenizer::from_dir(dir); }).find(ft::join_path(dir, "vocab.txt")), std::string::npos);
  ft::remove_tree(dir);
}

TEST(TokenizerErrors, MalformedTokenizerJsonNamesTheFile) {
  const std::string dir = temp_dir("badjson");
  const std::string path = ft::join_path(dir, "tokenizer.json");
  ft::write_file_atomic(path, std::string("{\n  \"model\": {\n    \"vocab\": [1,\n"));
  EXPECT_NE(error_of([&] { Tokenizer::from_dir(dir); }).find(path + ":"), std::string::npos);
  ft::write_file_atomic(path, std::string(R"({"model": {"type": "BPE"}})"));
  const std::string bpe = error_of([&] { Tokenizer::from_dir(dir); });
  EXPECT_NE(bpe.find(path), std::string::npos);
  EXPECT_NE(bpe.find("WordPiece"), std::string::npos);
  ft::write_file_atomic(path, std::string(R"({"model": {"type": "WordPiece", "vocab": {"a": 0}}})"));
  EXPECT_NE(error_of([&] { Tokenizer::from_dir(dir); }).find(path), std::string::npos);
  ft::remove_tree(dir);
}

TEST(TokenizerErrors, VocabularyProblems) {
  std::vector<std::string> no_unk = kVocab;
  no_unk.erase(no_unk.begin() + 1);
  EXPECT_NE(error_of([&] { Tokenizer::from_vocab(no_unk, {}); }).find("no unk token '[UNK]'"), std::string::npos);
  std::vector<std::string> dup = kVocab;
  dup.push_back("hello");
  EXPECT_NE(error_of([&] { Tokenizer::from_vocab(dup, {}); }).find("repeats entry 5"), std::string::npos);
  const std::string dir = temp_dir("nounk");
  const std::string path = ft::join_path(dir, "vocab.txt");
  ft::write_file_atomic(path, std::string("[PAD]\n[CLS]\n[SEP]\n[MASK]\n"));
  const std::string msg = error_of([&] { Tokenizer::from_dir(dir); });
  EXPECT_NE(msg.find(path), std::string::npos);
  EXPECT_NE(msg.find("[UNK]"), std::string::npos);
  ft::remove_tree(dir);
}

TEST(TokenizerCli, WritesJsonlAndReportsErrors) {
  const std::string dir = temp_dir("cli");
  const std::string tok_dir = ft::join_path(dir, "tok");
  small().save(tok_dir);
  const std::string tsv = ft::join_path(dir, "in.tsv");
  ft::write_file_atomic(tsv, std::string("id\tdocument\tlabel\n1\thello world\t0\n2\t\"a\"\t1\n"));
  const std::string out = ft::join_path(dir, "out.jsonl");
  const std::string cmd = std::string(FT_BINARY) + " tokenize --tokenizer " + tok_dir + " --input " + tsv;
  ASSERT_EQ(std::system((cmd + " --tokens --output " + out).c_str()), 0);
  EXPECT_EQ(ft::read_file(out),
            "{\"input_ids\":[2,5,8,3],\"tokens\":[\"[CLS]\",\"hello\",\"world\",\"[SEP]\"]}\n"
            "{\"input_ids\":[2,1,12,1,3],\"tokens\":[\"[CLS]\",\"[UNK]\",\"a\",\"[UNK]\",\"[SEP]\"]}\n");
  ASSERT_EQ(std::system((cmd + " --max-length 3 --output " + out).c_str()), 0);
  EXPECT_EQ(ft::read_file(out), "{\"input_ids\":[2,5,3]}\n{\"input_ids\":[2,1,3]}\n");
  // Plain lines when the first line has no TAB; a missing column fails without touching the output.
  const std::string txt = ft::join_path(dir, "in.txt");
  ft::write_file_atomic(txt, std::string("hello\nworld\n"));
  ASSERT_EQ(std::system((std::string(FT_BINARY) + " tokenize --tokenizer " + tok_dir + " --input " + txt +
                         " --output " + out).c_str()),
            0);
  EXPECT_EQ(ft::read_file(out), "{\"input_ids\":[2,5,3]}\n{\"input_ids\":[2,8,3]}\n");
  EXPECT_NE(std::system((cmd + " --column text --output " + out + " 2>/dev/null").c_str()), 0);
  EXPECT_EQ(ft::read_file(out), "{\"input_ids\":[2,5,3]}\n{\"input_ids\":[2,8,3]}\n");
  ft::remove_tree(dir);
}
