#include "text/perturb.h"

#include <algorithm>
#include <array>
#include <iterator>
#include <random>
#include <sstream>

#include "core/error.h"
#include "core/random.h"
#include "text/unicode.h"

namespace ft::text {
namespace {

constexpr char32_t kSyllableFirst = 0xAC00, kSyllableLast = 0xD7A3;
constexpr int kMedials = 21, kFinals = 28;

// Compatibility jamo of the 19 initial consonants and the 27 final consonants (index 1..27).
// The 21 medial vowels are contiguous in both orders: compatibility U+314F + medial index.
constexpr std::array<char32_t, 19> kInitialJamo = {0x3131, 0x3132, 0x3134, 0x3137, 0x3138, 0x3139, 0x3141,
                                                   0x3142, 0x3143, 0x3145, 0x3146, 0x3147, 0x3148, 0x3149,
                                                   0x314A, 0x314B, 0x314C, 0x314D, 0x314E};
constexpr std::array<char32_t, 28> kFinalJamo = {0,      0x3131, 0x3132, 0x3133, 0x3134, 0x3135, 0x3136,
                                                 0x3137, 0x3139, 0x313A, 0x313B, 0x313C, 0x313D, 0x313E,
                                                 0x313F, 0x3140, 0x3141, 0x3142, 0x3144, 0x3145, 0x3146,
                                                 0x3147, 0x3148, 0x314A, 0x314B, 0x314C, 0x314D, 0x314E};
constexpr char32_t kFirstVowelJamo = 0x314F;

// 2-beolsik key rows, split into consonant and vowel runs: a typo hits a neighbour of the same kind.
const std::vector<std::u32string> kKeyRows = {U"ㅂㅈㄷㄱㅅ", U"ㅁㄴㅇㄹㅎ", U"ㅋㅌㅊㅍ", U"ㅛㅕㅑㅐㅔ", U"ㅗㅓㅏㅣ", U"ㅠㅜㅡ"};

// Portable Bernoulli draw: exactly one draw from the generator whatever the rate, so the stream
// stays aligned between rates and rate 0 / 1 are exact.
bool chance(std::mt19937_64& rng, double rate) {
  constexpr uint64_t kScale = uint64_t{1} << 53;
  return static_cast<double>(uniform_below(rng, kScale)) < rate * static_cast<double>(kScale);
}

// Strictly decoded code points, with U+FFFD for each byte that starts no valid sequence.
std::u32string decode_lenient(std::string_view s) {
  std::u32string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size();) {
    char32_t cp = 0;
    const size_t len = next_utf8(s, i, cp);
    out.push_back(len ? cp : char32_t{0xFFFD});
    i += len ? len : 1;
  }
  return out;
}

bool is_space(char32_t cp) { return is_bert_whitespace(cp); }

// The left or right neighbour of `jamo` in its key row; 0 when the jamo is on no row.
char32_t key_neighbour(char32_t jamo, std::mt19937_64& rng) {
  for (const std::u32string& row : kKeyRows) {
    const size_t at = row.find(jamo);
    if (at == std::u32string::npos) continue;
    std::vector<char32_t> options;
    if (at > 0) options.push_back(row[at - 1]);
    if (at + 1 < row.size()) options.push_back(row[at + 1]);
    return options[uniform_below(rng, options.size())];
  }
  return 0;
}

int initial_index(char32_t jamo) {
  for (size_t i = 0; i < kInitialJamo.size(); ++i)
    if (kInitialJamo[i] == jamo) return static_cast<int>(i);
  return -1;
}

// A substitution of the initial or (even odds) the vowel, falling back to the other part; nullopt
// when neither has a neighbour.
std::optional<char32_t> substitute(const HangulSyllable& s, std::mt19937_64& rng) {
  const bool vowel_first = uniform_below(rng, 2) == 1;
  for (int attempt = 0; attempt < 2; ++attempt) {
    HangulSyllable t = s;
    if ((attempt == 0) == vowel_first) {
      const char32_t n = key_neighbour(kFirstVowelJamo + static_cast<char32_t>(s.medial), rng);
      if (!n) continue;
      t.medial = static_cast<int>(n - kFirstVowelJamo);
    } else {
      const char32_t n = key_neighbour(kInitialJamo[static_cast<size_t>(s.initial)], rng);
      if (!n) continue;
      t.initial = initial_index(n);
    }
    return compose_hangul(t);
  }
  return std::nullopt;
}

// 한 → 하; 하 → ㅎ.
std::u32string drop(const HangulSyllable& s) {
  if (s.final != 0) return std::u32string(1, compose_hangul({s.initial, s.medial, 0}));
  return std::u32string(1, kInitialJamo[static_cast<size_t>(s.initial)]);
}

// FNV-1a: a fixed, portable hash of the perturbation's name.
uint64_t fnv1a(const std::string& s) {
  uint64_t h = 0xcbf29ce484222325ull;
  for (const unsigned char c : s) h = (h ^ c) * 0x100000001b3ull;
  return h;
}

}  // namespace

std::optional<HangulSyllable> decompose_hangul(char32_t cp) {
  if (cp < kSyllableFirst || cp > kSyllableLast) return std::nullopt;
  const int index = static_cast<int>(cp - kSyllableFirst);
  return HangulSyllable{index / (kMedials * kFinals), index % (kMedials * kFinals) / kFinals, index % kFinals};
}

char32_t compose_hangul(const HangulSyllable& s) {
  if (s.initial < 0 || s.initial >= 19 || s.medial < 0 || s.medial >= kMedials || s.final < 0 || s.final >= kFinals)
    throw Error("not a Hangul syllable: initial " + std::to_string(s.initial) + ", medial " +
                std::to_string(s.medial) + ", final " + std::to_string(s.final));
  return kSyllableFirst + static_cast<char32_t>((s.initial * kMedials + s.medial) * kFinals + s.final);
}

std::string to_compatibility_jamo(std::string_view text) {
  std::u32string out;
  for (const char32_t cp : decode_lenient(text)) {
    const auto s = decompose_hangul(cp);
    if (!s) {
      out.push_back(cp);
      continue;
    }
    out.push_back(kInitialJamo[static_cast<size_t>(s->initial)]);
    out.push_back(kFirstVowelJamo + static_cast<char32_t>(s->medial));
    if (s->final) out.push_back(kFinalJamo[static_cast<size_t>(s->final)]);
  }
  return to_utf8(out);
}

std::string remove_spaces(std::string_view text, double rate, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::u32string out;
  for (const char32_t cp : decode_lenient(text))
    if (!(is_space(cp) && chance(rng, rate))) out.push_back(cp);
  return to_utf8(out);
}

std::string respace(std::string_view text, double rate, uint64_t seed) {
  std::mt19937_64 rng(seed);
  const std::u32string in = decode_lenient(text);
  std::u32string out;
  for (size_t i = 0; i < in.size(); ++i) {
    if (is_space(in[i])) {
      if (!chance(rng, rate)) out.push_back(in[i]);
      continue;
    }
    out.push_back(in[i]);
    if (i + 1 < in.size() && !is_space(in[i + 1]) && chance(rng, rate)) out.push_back(U' ');
  }
  return to_utf8(out);
}

std::string jamo_typos(std::string_view text, double rate, uint64_t seed) {
  std::mt19937_64 rng(seed);
  const std::u32string in = decode_lenient(text);
  std::u32string out;
  for (size_t i = 0; i < in.size(); ++i) {
    const auto s = decompose_hangul(in[i]);
    if (!s || !chance(rng, rate)) {
      out.push_back(in[i]);
      continue;
    }
    const uint64_t op = uniform_below(rng, 3);
    if (op == 2 && i + 1 < in.size() && decompose_hangul(in[i + 1]) && in[i + 1] != in[i]) {
      out.push_back(in[i + 1]);
      out.push_back(in[i]);
      ++i;  // the successor moved, it is not typed again
      continue;
    }
    if (op != 1)
      if (const auto c = substitute(*s, rng)) {
        out.push_back(*c);
        continue;
      }
    out += drop(*s);
  }
  return to_utf8(out);
}

std::string char_noise(std::string_view text, double rate, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::u32string out;
  for (const char32_t cp : decode_lenient(text)) {
    if (is_space(cp) || !chance(rng, rate)) {
      out.push_back(cp);
      continue;
    }
    if (uniform_below(rng, 2) == 1) out.append(2, cp);  // duplicated; otherwise deleted
  }
  return to_utf8(out);
}

std::string add_interjection(std::string_view text, double rate, uint64_t seed) {
  struct Run {
    char32_t cp;
    uint64_t min, max;
  };
  static const Run kRuns[] = {{U'ㅋ', 2, 6}, {U'ㅎ', 2, 5}, {U'ㅠ', 2, 4}, {U'ㅜ', 2, 4}};
  static const std::u32string kEmoticons[] = {U"^^", U"^_^", U":)", U";;", U"-_-", U"ㅡㅡ", U"♡"};
  constexpr uint64_t kRunCount = std::size(kRuns), kChoices = kRunCount + std::size(kEmoticons);
  std::mt19937_64 rng(seed);
  std::u32string out = decode_lenient(text);
  if (!chance(rng, rate)) return to_utf8(out);
  if (uniform_below(rng, 2) == 1 && !out.empty()) out.push_back(U' ');
  const uint64_t pick = uniform_below(rng, kChoices);
  if (pick < kRunCount) {
    const Run& r = kRuns[pick];
    out.append(r.min + uniform_below(rng, r.max - r.min + 1), r.cp);
  } else {
    out += kEmoticons[pick - kRunCount];
  }
  return to_utf8(out);
}

const std::vector<std::string>& perturbation_names() {
  static const std::vector<std::string> names = {"no_spaces", "spacing", "jamo", "char_noise", "interjection"};
  return names;
}

std::vector<Perturbation> default_perturbations() {
  return {{"no_spaces", 1.0}, {"spacing", 0.2}, {"jamo", 0.1}, {"char_noise", 0.05}, {"interjection", 1.0}};
}

void validate(const Perturbation& p) {
  const auto& names = perturbation_names();
  if (std::find(names.begin(), names.end(), p.name) == names.end()) {
    std::string known;
    for (const auto& n : names) known += (known.empty() ? "" : ", ") + n;
    throw Error("unknown perturbation '" + p.name + "' (known: " + known + ")");
  }
  if (!(p.rate >= 0 && p.rate <= 1))
    throw Error("perturbation " + p.name + ": rate must be in [0, 1], got " + std::to_string(p.rate));
}

std::vector<Perturbation> parse_perturbations(const std::string& list) {
  std::vector<Perturbation> out;
  std::stringstream ss(list);
  for (std::string item; std::getline(ss, item, ',');) {
    if (item.empty()) continue;
    const size_t colon = item.find(':');
    if (colon == std::string::npos) throw Error("perturbation '" + item + "': expected NAME:RATE, e.g. jamo:0.1");
    Perturbation p{item.substr(0, colon), 0};
    const std::string rate = item.substr(colon + 1);
    size_t used = 0;
    try {
      p.rate = std::stod(rate, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    if (used == 0 || used != rate.size()) throw Error("perturbation '" + item + "': rate '" + rate + "' is not a number");
    validate(p);
    out.push_back(p);
  }
  if (out.empty()) throw Error("no perturbations given ('" + list + "')");
  return out;
}

std::string label(const Perturbation& p) {
  std::ostringstream s;
  s << p.name << ':' << p.rate;
  return s.str();
}

uint64_t row_seed(uint64_t seed, const std::string& name, uint64_t row) {
  return splitmix64(splitmix64(seed ^ fnv1a(name)) + row);
}

std::string apply_perturbation(std::string_view text, const Perturbation& p, uint64_t seed) {
  validate(p);
  if (p.name == "no_spaces") return remove_spaces(text, p.rate, seed);
  if (p.name == "spacing") return respace(text, p.rate, seed);
  if (p.name == "jamo") return jamo_typos(text, p.rate, seed);
  if (p.name == "char_noise") return char_noise(text, p.rate, seed);
  return add_interjection(text, p.rate, seed);
}

}  // namespace ft::text
