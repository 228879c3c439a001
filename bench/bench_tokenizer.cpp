// Tokenizer throughput on one core: bench_tokenizer TOKENIZER_DIR FILE.tsv [COLUMN]
// Encodes every text of the column (default `document`) three times and reports the best pass.
#include <chrono>
#include <cstdio>
#include <exception>

#include "data/dataset.h"
#include "text/tokenizer.h"

int main(int argc, char** argv) {
  if (argc < 3 || argc > 4) {
    std::fprintf(stderr, "usage: %s TOKENIZER_DIR FILE.tsv [COLUMN]\n", argv[0]);
    return 2;
  }
  try {
    const auto tok = ft::text::Tokenizer::from_dir(argv[1]);
    const auto rows = ft::data::read_text_column(argv[2], argc == 4 ? argv[3] : "document");
    double best = 1e300;
    size_t tokens = 0;
    for (int pass = 0; pass < 3; ++pass) {
      tokens = 0;
      const auto t0 = std::chrono::steady_clock::now();
      for (const auto& text : rows.texts) tokens += tok.encode(text).size();
      best = std::min(best, std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
    }
    std::printf("%zu texts, %zu tokens (incl. [CLS]/[SEP]) in %.3f s: %.0f texts/s, %.0f tokens/s\n",
                rows.texts.size(), tokens, best, rows.texts.size() / best, tokens / best);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
  return 0;
}
