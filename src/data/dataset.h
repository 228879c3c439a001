// Labelled text datasets (TSV, CSV, JSONL) loaded into memory, with row-level validation.
#pragma once
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace ft::data {

struct Example {
  std::string id;
  std::string text;
  int64_t label;  // index into Dataset::label_names
};

struct DatasetOptions {
  std::string format = "auto";  // auto (by extension: .tsv/.txt -> tsv, .csv -> csv, .jsonl -> jsonl) | tsv | csv | jsonl
  std::string text_column = "document";
  std::string label_column = "label";
  std::string id_column = "id";  // optional: ids are 0-based data row numbers when the column is absent
  std::vector<std::string> label_names = {"0", "1"};  // raw label values, in label-id order
  bool skip_bad_rows = false;  // skip and count malformed rows instead of failing
  int64_t max_samples = -1;    // < 0: all rows; otherwise a seeded subset, kept in file order
  uint64_t seed = 42;
};

struct Dataset {
  std::vector<Example> examples;
  std::vector<std::string> label_names;
  int64_t skipped_rows = 0;
  std::string path;
};

// Throws ft::Error ("FILE:LINE: what is wrong" for row errors) on anything malformed.
// TSV fields are split on TAB only and quotes stay as text (pandas quoting=3), as NSMC needs;
// CSV follows RFC 4180. Blank lines are ignored and a leading UTF-8 BOM is dropped.
Dataset load_dataset(const std::string& path, const DatasetOptions& opts);
// The same for a file's contents already in memory; `path` names it (and gives the format for "auto").
Dataset parse_dataset(std::string_view contents, const std::string& path, const DatasetOptions& opts);

// A seeded split stratified by label: from each label's examples, round(fraction · count) go to the
// second part. Both parts keep file order; the same seed gives the same split. Throws ft::Error when
// the fraction is not in (0, 1) or leaves either part empty.
struct Split {
  Dataset train, held_out;
};
Split split_stratified(const Dataset& ds, double fraction, uint64_t seed);

// Lines of a text file without their LF / CRLF ends; a final line without newline is kept.
std::vector<std::string> read_lines(const std::string& path);

// Unlabelled texts (what `finetune tokenize` reads): if the first line holds a TAB, a TSV with a header
// whose `column` is taken (fields split as load_dataset splits TSV; blank lines ignored); otherwise
// every line is one text, blank ones included, so output lines match input lines.
struct TextColumn {
  std::vector<std::string> texts;
  std::vector<size_t> lines;  // 1-based line of each text, for error messages
};
// Throws ft::Error naming the file (and line) for a missing column, a short row or an input without rows.
TextColumn read_text_column(const std::string& path, const std::string& column = "document");
// The same for a file's contents already in memory; `path` names it in errors.
TextColumn parse_text_column(std::string_view contents, const std::string& path, const std::string& column = "document");

}  // namespace ft::data
