// Seeded, deterministic perturbations of Korean review text: the noise real reviews carry (wrong
// spacing, jamo-level keyboard typos, dropped or doubled characters, ㅋㅋㅋ / ㅠㅠ runs and emoticons).
// Every perturbation is a pure function of (text, rate, seed): the same arguments give the same
// output on every platform (draws go through core/random.h, not std distributions), rate 0 returns
// the text unchanged, and the output is valid UTF-8 (invalid input bytes become U+FFFD).
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace ft::text {

// Hangul syllable arithmetic (Unicode §3.12): S = U+AC00 + (initial·21 + medial)·28 + final,
// with initial < 19, medial < 21, final < 28 (0 = no final consonant).
struct HangulSyllable {
  int initial = 0, medial = 0, final = 0;
};
std::optional<HangulSyllable> decompose_hangul(char32_t cp);  // nullopt outside U+AC00–U+D7A3
char32_t compose_hangul(const HangulSyllable& s);               // throws ft::Error on an out-of-range part
// The compatibility jamo (U+3131–U+3163, what a keyboard types) of every Hangul syllable in the
// text, other characters kept: "한국어" → "ㅎㅏㄴㄱㅜㄱㅇㅓ".
std::string to_compatibility_jamo(std::string_view text);

// Each whitespace character is removed with probability `rate` (rate 1: all spaces removed).
std::string remove_spaces(std::string_view text, double rate, uint64_t seed);
// Each space is removed, and a space inserted between two adjacent non-space characters, each with
// probability `rate`: Korean spacing (띄어쓰기) is often wrong in both directions.
std::string respace(std::string_view text, double rate, uint64_t seed);
// Each Hangul syllable, with probability `rate`, gets one keyboard typo, chosen uniformly:
//   substitute: the initial consonant or the vowel becomes its left or right neighbour on the
//     2-beolsik keyboard in the same row and of the same kind (ㄱ → ㄷ or ㅅ; ㅏ → ㅓ or ㅣ);
//   drop: the final consonant is lost (한 → 하), or, without one, the vowel (하 → ㅎ);
//   swap: the syllable trades places with the next one when that is Hangul too (국한 → 한국).
// A syllable whose jamo have no neighbour (ㄲ, ㅘ) loses one instead; a swap without a different
// Hangul successor becomes a substitution.
std::string jamo_typos(std::string_view text, double rate, uint64_t seed);
// Each non-space character, with probability `rate`, is deleted or duplicated (even odds).
std::string char_noise(std::string_view text, double rate, uint64_t seed);
// With probability `rate` (per text) one interjection is appended, with or without a space:
// a laughter or crying run (ㅋ×2–6, ㅎ×2–5, ㅠ×2–4, ㅜ×2–4) or an emoticon (^^, ^_^, :), ;;, -_-, ㅡㅡ, ♡).
std::string add_interjection(std::string_view text, double rate, uint64_t seed);

struct Perturbation {
  std::string name;  // one of perturbation_names()
  double rate = 0;   // in [0, 1]
  bool operator==(const Perturbation& o) const { return name == o.name && rate == o.rate; }
};

// no_spaces, spacing, jamo, char_noise, interjection (the functions above, in that order).
const std::vector<std::string>& perturbation_names();
// no_spaces 1, spacing 0.2, jamo 0.1, char_noise 0.05, interjection 1.
std::vector<Perturbation> default_perturbations();
// Throws ft::Error for an unknown name or a rate outside [0, 1].
void validate(const Perturbation& p);
// "no_spaces:1,jamo:0.1" → [{no_spaces, 1}, {jamo, 0.1}]; errors name the offending item.
std::vector<Perturbation> parse_perturbations(const std::string& list);
// "jamo:0.1" (the label used in file names and reports).
std::string label(const Perturbation& p);

// The seed for one row of a data set: mixes the run's seed, the perturbation's name and the row
// index, so rows draw independently and a perturbation's output does not depend on the others.
uint64_t row_seed(uint64_t seed, const std::string& name, uint64_t row);
std::string apply_perturbation(std::string_view text, const Perturbation& p, uint64_t seed);

}  // namespace ft::text
