#include <gtest/gtest.h>

#include <filesystem>
#include <nlohmann/json.hpp>
#include <sstream>

#include "core/error.h"
#include "core/files.h"
#include "text/rows.h"
#include "text/tokenizer.h"

using ft::text::Tokenizer;
using ft::text::TokenizerOptions;

namespace {

const std::string kShared = FT_SHARED_DIR;
const std::string kGoldens = kShared + "/goldens/tokenizer";

#define REQUIRE_SHARED(path) \
  if (!ft::file_exists(path)) GTEST_SKIP() << "shared data not found: " << (path)

// Compares every row of a golden JSONL with our ids (and tokens where the golden has them).
void expect_golden(const Tokenizer& tok, const std::string& tsv, const std::string& jsonl) {
  const auto docs = ft::text::read_text_rows(tsv, "document");
  const auto ids = ft::text::read_text_rows(tsv, "id");
  std::istringstream in(ft::read_file(jsonl));
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
  REQUIRE_SHARED(kGoldens + "/nsmc_test.klue.jsonl");
  const auto tok = Tokenizer::from_dir(kShared + "/klue/roberta-base");
  expect_golden(tok, kShared + "/nsmc/ratings_test.txt", kGoldens + "/nsmc_test.klue.jsonl");
}

TEST(TokenizerGolden, EdgeCasesKlue) {
  REQUIRE_SHARED(kGoldens + "/edge_cases.klue.jsonl");
  const auto tok = Tokenizer::from_dir(kShared + "/klue/roberta-base");
  expect_golden(tok, kGoldens + "/edge_cases.tsv", kGoldens + "/edge_cases.klue.jsonl");
}

TEST(TokenizerGolden, NsmcTest500Synthetic) {
  REQUIRE_SHARED(kGoldens + "/nsmc_test500.synthetic.jsonl");
  const auto tok = Tokenizer::from_vocab_file(kGoldens + "/synthetic_vocab.txt");
  expect_golden(tok, kShared + "/nsmc/ratings_test.txt", kGoldens + "/nsmc_test500.synthetic.jsonl");
}

TEST(TokenizerGolden, EdgeCasesSynthetic) {
  REQUIRE_SHARED(kGoldens + "/edge_cases.synthetic.jsonl");
  const auto tok = Tokenizer::from_vocab_file(kGoldens + "/synthetic_vocab.txt");
  expect_golden(tok, kGoldens + "/edge_cases.tsv", kGoldens + "/edge_cases.synthetic.jsonl");
}
