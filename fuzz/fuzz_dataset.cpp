// Dataset readers on arbitrary bytes. The first byte picks the reader (bits 0-1: TSV, CSV, JSONL,
// or read_text_column's TSV/plain lines) and options (bit 2: skip bad rows, bit 3: subsample to 2
// rows); the rest is the file. The contract is a dataset whose rows hold valid UTF-8 and known
// labels, or an ft::Error.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "core/error.h"
#include "data/dataset.h"
#include "text/unicode.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const uint8_t mode = data[0];
  const std::string_view contents(reinterpret_cast<const char*>(data) + 1, size - 1);
  try {
    if ((mode & 3) == 3) {
      const ft::data::TextColumn col = ft::data::parse_text_column(contents, "fuzz.tsv");
      if (col.texts.empty() || col.texts.size() != col.lines.size()) __builtin_trap();
      return 0;
    }
    static const char* const kNames[] = {"fuzz.tsv", "fuzz.csv", "fuzz.jsonl"};
    ft::data::DatasetOptions opts;
    opts.skip_bad_rows = mode & 4;
    opts.max_samples = (mode & 8) ? 2 : -1;
    const ft::data::Dataset ds = ft::data::parse_dataset(contents, kNames[mode & 3], opts);
    if (ds.examples.empty()) __builtin_trap();
    for (const auto& ex : ds.examples)
      if (ex.label < 0 || ex.label >= static_cast<int64_t>(ds.label_names.size()) ||
          ft::text::find_invalid_utf8(ex.text) != std::string_view::npos)
        __builtin_trap();
  } catch (const ft::Error&) {
  }
  return 0;
}
