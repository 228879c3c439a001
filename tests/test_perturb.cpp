// Perturbations of Korean text: hand-worked examples, the Hangul arithmetic, determinism by seed,
// rate 0 as the identity, and valid UTF-8 out of any input.
#include <gtest/gtest.h>

#include <random>
#include <set>

#include "core/error.h"
#include "text/perturb.h"
#include "text/unicode.h"

namespace {

using namespace ft::text;

const std::string kReview = "이 영화 정말 재미있어요 배우들 연기도 좋고 스토리도 탄탄해서 시간 가는 줄 몰랐네요 강추합니다";

using Fn = std::string (*)(std::string_view, double, uint64_t);
const std::vector<std::pair<std::string, Fn>> kAll = {{"remove_spaces", remove_spaces}, {"respace", respace},
                                                      {"jamo_typos", jamo_typos},       {"char_noise", char_noise},
                                                      {"add_interjection", add_interjection}};

// Every output of `f` on `text` at `rate` over seeds 0..n-1.
std::set<std::string> outputs(Fn f, const std::string& text, double rate, int n = 400) {
  std::set<std::string> out;
  for (int seed = 0; seed < n; ++seed) out.insert(f(text, rate, static_cast<uint64_t>(seed)));
  return out;
}

TEST(Perturb, HangulSyllableArithmetic) {
  // 한 = U+D55C = U+AC00 + (18·21 + 0)·28 + 4: ㅎ (initial 18), ㅏ (medial 0), ㄴ (final 4).
  const auto han = decompose_hangul(U'한');
  ASSERT_TRUE(han);
  EXPECT_EQ(han->initial, 18);
  EXPECT_EQ(han->medial, 0);
  EXPECT_EQ(han->final, 4);
  const auto guk = decompose_hangul(U'국');  // ㄱ 0, ㅜ 13, ㄱ 1
  ASSERT_TRUE(guk);
  EXPECT_EQ(guk->initial, 0);
  EXPECT_EQ(guk->medial, 13);
  EXPECT_EQ(guk->final, 1);
  EXPECT_EQ(to_compatibility_jamo("한국어"), "ㅎㅏㄴㄱㅜㄱㅇㅓ");
  EXPECT_EQ(to_compatibility_jamo("닭 값 ok"), "ㄷㅏㄺ ㄱㅏㅄ ok");
  EXPECT_FALSE(decompose_hangul(U'a'));
  EXPECT_FALSE(decompose_hangul(U'ㅎ'));
  EXPECT_FALSE(decompose_hangul(0xD7A4));
  // Every syllable composes back from its parts.
  for (char32_t cp = 0xAC00; cp <= 0xD7A3; ++cp) {
    const auto s = decompose_hangul(cp);
    ASSERT_TRUE(s);
    ASSERT_EQ(compose_hangul(*s), cp);
  }
  EXPECT_THROW(compose_hangul({19, 0, 0}), ft::Error);
  EXPECT_THROW(compose_hangul({0, 21, 0}), ft::Error);
  EXPECT_THROW(compose_hangul({0, 0, 28}), ft::Error);
}

TEST(Perturb, RemoveSpacesHandWorkedAndIdempotent) {
  EXPECT_EQ(remove_spaces("정말 재밌는  영화 ㅋㅋ", 1.0, 7), "정말재밌는영화ㅋㅋ");
  const std::string once = remove_spaces(kReview, 1.0, 1);
  EXPECT_EQ(once.find(' '), std::string::npos);
  EXPECT_EQ(remove_spaces(once, 1.0, 2), once);
  // At rate 0.5 some spaces go and the rest stay; nothing else changes.
  const std::string half = remove_spaces(kReview, 0.5, 3);
  EXPECT_EQ(remove_spaces(half, 1.0, 0), once);
  EXPECT_LT(half.size(), kReview.size());
  EXPECT_GT(half.size(), once.size());
}

TEST(Perturb, RespaceHandWorked) {
  // Rate 1: the space goes, and one appears between every two adjacent non-space characters.
  EXPECT_EQ(respace("좋은 영화", 1.0, 5), "좋 은영 화");
  EXPECT_EQ(respace("a", 1.0, 5), "a");
  // Removing all spaces from the result gives back the text without spaces: only spacing changed.
  for (int seed = 0; seed < 20; ++seed)
    EXPECT_EQ(remove_spaces(respace(kReview, 0.3, seed), 1.0, 0), remove_spaces(kReview, 1.0, 0));
}

TEST(Perturb, JamoTyposHandWorked) {
  // 한 alone: no successor to swap with. Substitute ㅎ → ㄹ (its only neighbour in ㅁㄴㅇㄹㅎ) or
  // ㅏ → ㅓ / ㅣ (ㅗㅓㅏㅣ); or drop the final ㄴ.
  EXPECT_EQ(outputs(jamo_typos, "한", 1.0), (std::set<std::string>{"란", "헌", "힌", "하"}));
  // 하 has no final: dropping leaves the bare initial; ㅎ→ㄹ gives 라, ㅏ → 허 / 히.
  EXPECT_EQ(outputs(jamo_typos, "하", 1.0), (std::set<std::string>{"라", "허", "히", "ㅎ"}));
  // ㄲ and ㅘ are on no key row: 꽈 can only lose its vowel.
  EXPECT_EQ(outputs(jamo_typos, "꽈", 1.0), (std::set<std::string>{"ㄲ"}));
  // Two syllables: swapping them is among the outcomes.
  EXPECT_EQ(outputs(jamo_typos, "국한", 1.0).count("한국"), 1u);
  // Non-Hangul characters are never touched.
  EXPECT_EQ(jamo_typos("abc 123 ㅋㅋ!", 1.0, 9), "abc 123 ㅋㅋ!");
}

TEST(Perturb, CharNoiseHandWorked) {
  EXPECT_EQ(outputs(char_noise, "가 나", 1.0), (std::set<std::string>{" ", "가가 ", " 나나", "가가 나나"}));
}

TEST(Perturb, InterjectionHandWorked) {
  const std::set<std::string> seen = outputs(add_interjection, "재밌다", 1.0, 2000);
  for (const std::string& s : seen) {
    ASSERT_EQ(s.rfind("재밌다", 0), 0u) << s;  // appended, never inserted
    EXPECT_GT(s.size(), std::string("재밌다").size());
  }
  for (const char* expected : {"재밌다ㅋㅋ", "재밌다 ㅋㅋㅋㅋㅋㅋ", "재밌다ㅠㅠ", "재밌다 ^^", "재밌다♡", "재밌다 -_-"})
    EXPECT_EQ(seen.count(expected), 1u) << expected;
  EXPECT_EQ(seen.count("재밌다ㅋ"), 0u);  // runs are at least two long
  EXPECT_EQ(seen.count("재밌다ㅋㅋㅋㅋㅋㅋㅋ"), 0u);  // and ㅋ at most six
  // At rate 1 an empty text gets the interjection with no leading space.
  for (const std::string& s : outputs(add_interjection, "", 1.0, 100)) EXPECT_NE(s.front(), ' ');
}

TEST(Perturb, RateZeroIsIdentityAndSeedsDecide) {
  for (const auto& [name, f] : kAll) {
    SCOPED_TRACE(name);
    EXPECT_EQ(f(kReview, 0.0, 42), kReview);
    const double rate = name == "add_interjection" ? 1.0 : 0.3;  // one draw per text, not per character
    EXPECT_EQ(f(kReview, rate, 42), f(kReview, rate, 42));
    EXPECT_NE(f(kReview, rate, 42), kReview);
    EXPECT_NE(f(kReview + " " + kReview, rate, 42), f(kReview + " " + kReview, rate, 43));
  }
}

// Fixed outputs: the draws go through core/random.h, so these hold on every platform and library.
TEST(Perturb, OutputsAreFixedBySeed) {
  EXPECT_EQ(respace("이 영화 정말 재미있어요", 0.3, 42), "이 영화 정 말 재 미있어 요");
  EXPECT_EQ(jamo_typos("이 영화 정말 재미있어요", 0.3, 42), "이 영화 말정 ㅈ미이ㅇ요");
  EXPECT_EQ(char_noise("이 영화 정말 재미있어요", 0.2, 42), "이 영화 정정말말 재미있어어요");
  EXPECT_EQ(add_interjection("이 영화 정말 재미있어요", 1.0, 42), "이 영화 정말 재미있어요 -_-");
}

TEST(Perturb, OutputIsValidUtf8ForAnyInput) {
  std::mt19937_64 rng(1);
  for (int i = 0; i < 300; ++i) {
    std::string bytes(rng() % 40, '\0');
    for (char& c : bytes) c = static_cast<char>(rng() % 3 == 0 ? 0x20 : rng());
    if (i % 3 == 0) bytes += kReview.substr(0, 1 + rng() % kReview.size());  // cut mid-character too
    for (const auto& [name, f] : kAll)
      for (const double rate : {0.0, 0.5, 1.0})
        ASSERT_EQ(find_invalid_utf8(f(bytes, rate, i)), std::string::npos) << name << " rate " << rate << " input " << i;
  }
  EXPECT_EQ(remove_spaces("a\xff b", 0.0, 0), "a\xEF\xBF\xBD b");  // the bad byte becomes U+FFFD
}

TEST(Perturb, ParseListsAndRowSeeds) {
  const auto ps = parse_perturbations("no_spaces:1,jamo:0.1");
  ASSERT_EQ(ps.size(), 2u);
  EXPECT_EQ(ps[0], (Perturbation{"no_spaces", 1.0}));
  EXPECT_EQ(ps[1], (Perturbation{"jamo", 0.1}));
  EXPECT_EQ(label(ps[1]), "jamo:0.1");
  auto error_of = [](const std::string& list) {
    try {
      parse_perturbations(list);
    } catch (const ft::Error& e) {
      return std::string(e.what());
    }
    return std::string("(no error)");
  };
  EXPECT_NE(error_of("typo:0.1").find("unknown perturbation 'typo'"), std::string::npos);
  EXPECT_NE(error_of("jamo:1.5").find("rate must be in [0, 1]"), std::string::npos);
  EXPECT_NE(error_of("jamo:abc").find("'jamo:abc': rate 'abc' is not a number"), std::string::npos);
  EXPECT_NE(error_of("jamo").find("expected NAME:RATE"), std::string::npos);
  EXPECT_NE(error_of("").find("no perturbations"), std::string::npos);
  for (const Perturbation& p : default_perturbations()) EXPECT_NO_THROW(validate(p));
  // Rows and perturbations draw from different streams.
  EXPECT_NE(row_seed(42, "jamo", 0), row_seed(42, "jamo", 1));
  EXPECT_NE(row_seed(42, "jamo", 0), row_seed(42, "spacing", 0));
  EXPECT_NE(row_seed(42, "jamo", 0), row_seed(43, "jamo", 0));
  EXPECT_EQ(apply_perturbation(kReview, {"jamo", 0.2}, 5), jamo_typos(kReview, 0.2, 5));
}

}  // namespace
