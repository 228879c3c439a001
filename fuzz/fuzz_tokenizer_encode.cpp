// Tokenizer::encode on arbitrary bytes with the embedded model's vocabulary. The first byte picks
// the options (bit 0: lowercase and strip accents) and max_length (the other bits: 0, i.e. no
// limit, or 2..128); the rest is the text. The contract: invalid UTF-8 gives an ft::Error, anything
// else [CLS] pieces [SEP] within max_length, and without a limit the pieces are tokenize()'s.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "core/error.h"
#include "text/tokenizer.h"
#include "text/unicode.h"

namespace {

std::unique_ptr<ft::text::Tokenizer> g_cased, g_lower;

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  g_cased = std::make_unique<ft::text::Tokenizer>(
      ft::text::Tokenizer::from_dir(FT_SOURCE_DIR "/models/ko-roberta-small"));
  std::vector<std::string> vocab;
  for (size_t i = 0; i < g_cased->vocab_size(); ++i) vocab.push_back(g_cased->id_to_token(static_cast<int64_t>(i)));
  ft::text::TokenizerOptions opts = g_cased->options();
  opts.do_lower_case = true;
  g_lower = std::make_unique<ft::text::Tokenizer>(ft::text::Tokenizer::from_vocab(std::move(vocab), opts));
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const ft::text::Tokenizer& tok = (data[0] & 1) ? *g_lower : *g_cased;
  const int max_length = (data[0] >> 1) == 0 ? 0 : (data[0] >> 1) + 1;
  const std::string text(reinterpret_cast<const char*>(data) + 1, size - 1);
  std::vector<int64_t> ids;
  try {
    ids = tok.encode(text, max_length);
  } catch (const ft::Error&) {
    if (ft::text::find_invalid_utf8(text) == std::string::npos) __builtin_trap();  // valid text must encode
    return 0;
  }
  if (ft::text::find_invalid_utf8(text) != std::string::npos) __builtin_trap();
  if (ids.size() < 2 || ids.front() != tok.cls_id() || ids.back() != tok.sep_id()) __builtin_trap();
  if (max_length > 0 && ids.size() > static_cast<size_t>(max_length)) __builtin_trap();
  for (int64_t id : ids)
    if (id < 0 || id >= static_cast<int64_t>(tok.vocab_size())) __builtin_trap();
  if (max_length == 0 && tok.tokenize(text).size() != ids.size() - 2) __builtin_trap();
  return 0;
}
