#include "data/dataset.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <nlohmann/json.hpp>
#include <optional>
#include <sstream>

#include "core/error.h"
#include "core/files.h"
#include "core/random.h"
#include "text/unicode.h"

namespace ft::data {
namespace {

enum class Format { tsv, csv, jsonl };

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

Format resolve_format(const std::string& path, const std::string& format) {
  if (format == "tsv") return Format::tsv;
  if (format == "csv") return Format::csv;
  if (format == "jsonl") return Format::jsonl;
  if (format != "auto") throw Error("unknown dataset format '" + format + "' (expected auto, tsv, csv or jsonl)");
  std::string lower = path;
  std::transform(lower.begin(), lower.end(), lower.begin(), [](unsigned char c) { return std::tolower(c); });
  if (ends_with(lower, ".tsv") || ends_with(lower, ".txt")) return Format::tsv;
  if (ends_with(lower, ".csv")) return Format::csv;
  if (ends_with(lower, ".jsonl")) return Format::jsonl;
  throw Error(path + ": cannot tell the format from the extension (.tsv, .txt, .csv, .jsonl); give it explicitly");
}

std::string_view drop_bom(std::string_view buf) {
  return buf.substr(0, 3) == "\xEF\xBB\xBF" ? buf.substr(3) : buf;
}

// Calls f(line, line_number) for every line, without its LF or CRLF; a final line without
// newline counts, the empty string after a final newline does not.
template <typename F>
void for_each_line(std::string_view buf, F&& f) {
  size_t pos = 0, number = 1;
  while (pos < buf.size()) {
    size_t end = buf.find('\n', pos);
    if (end == std::string_view::npos) end = buf.size();
    std::string_view line = buf.substr(pos, end - pos);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    f(line, number++);
    pos = end + 1;
  }
}

void split_tabs(std::string_view line, std::vector<std::string_view>& out) {
  out.clear();
  size_t pos = 0;
  for (;;) {
    const size_t tab = line.find('\t', pos);
    if (tab == std::string_view::npos) break;
    out.push_back(line.substr(pos, tab - pos));
    pos = tab + 1;
  }
  out.push_back(line.substr(pos));
}

// Values from the file go into error messages: keep them short.
std::string shorten(std::string_view s) {
  return s.size() <= 40 ? std::string(s) : std::string(s.substr(0, 40)) + "...";
}

std::string join(const std::vector<std::string_view>& items) {
  std::string out;
  for (auto item : items) out += (out.empty() ? "" : ", ") + shorten(item);
  return out;
}

// Validates rows and turns them into examples, whatever format they came from; decides
// whether a bad row fails the load or is skipped.
class RowCollector {
 public:
  RowCollector(const std::string& path, const DatasetOptions& opts) : path_(path), opts_(opts) {
    if (opts.label_names.empty()) throw Error("no label names given");
    for (size_t i = 0; i < opts.label_names.size(); ++i)
      if (std::find(opts.label_names.begin(), opts.label_names.begin() + i, opts.label_names[i]) !=
          opts.label_names.begin() + i)
        throw Error("label name '" + opts.label_names[i] + "' is given twice");
    if (opts.text_column == opts.label_column)
      throw Error("text and label column are both '" + opts.text_column + "'");
  }

  // Reports a malformed row: throws, or with skip_bad_rows counts it.
  void bad(size_t line, const std::string& what) {
    ++rows_;
    if (!opts_.skip_bad_rows) throw Error(path_ + ":" + std::to_string(line) + ": " + what);
    ++skipped_;
  }

  void add(size_t line, std::optional<std::string> id, std::string_view text, std::string_view label) {
    const auto it = std::find(opts_.label_names.begin(), opts_.label_names.end(), label);
    if (it == opts_.label_names.end())
      return bad(line, "label '" + shorten(label) + "' is not one of the label names (" + label_list() + ")");
    if (const size_t at = text::find_invalid_utf8(text); at != std::string::npos)
      return bad(line, "invalid UTF-8 in the text at byte " + std::to_string(at));
    if (id) {
      if (const size_t at = text::find_invalid_utf8(*id); at != std::string::npos)
        return bad(line, "invalid UTF-8 in the id at byte " + std::to_string(at));
    } else {
      id = std::to_string(rows_);  // stable whatever gets skipped or subsampled
    }
    ++rows_;
    examples_.push_back({std::move(*id), std::string(text), it - opts_.label_names.begin()});
  }

  // Tabular formats: the header names the columns.
  void set_header(const std::vector<std::string_view>& columns, size_t line) {
    num_columns_ = columns.size();
    text_col_ = find_column(columns, opts_.text_column, line);
    label_col_ = find_column(columns, opts_.label_column, line);
    id_col_ = find_column(columns, opts_.id_column, line);
    if (text_col_ < 0 || label_col_ < 0)
      throw Error(path_ + ":" + std::to_string(line) + ": the header has no column '" +
                  (text_col_ < 0 ? opts_.text_column : opts_.label_column) + "' (columns: " + join(columns) + ")");
  }
  bool has_header() const { return num_columns_ > 0; }

  void add_fields(const std::vector<std::string_view>& fields, size_t line) {
    if (fields.size() != num_columns_)
      return bad(line, "expected " + std::to_string(num_columns_) + " columns, found " + std::to_string(fields.size()));
    std::optional<std::string> id;
    if (id_col_ >= 0) id = std::string(fields[id_col_]);
    add(line, std::move(id), fields[text_col_], fields[label_col_]);
  }

  Dataset finish() {
    if (examples_.empty())
      throw Error(path_ + ": no usable rows" + (skipped_ ? " (" + std::to_string(skipped_) + " bad rows skipped)" : ""));
    Dataset ds;
    ds.path = path_;
    ds.label_names = opts_.label_names;
    ds.skipped_rows = skipped_;
    if (opts_.max_samples >= 0 && static_cast<size_t>(opts_.max_samples) < examples_.size()) {
      for (size_t i : sample_without_replacement(examples_.size(), static_cast<size_t>(opts_.max_samples), opts_.seed))
        ds.examples.push_back(std::move(examples_[i]));
    } else {
      ds.examples = std::move(examples_);
    }
    return ds;
  }

 private:
  std::string label_list() const { return join(std::vector<std::string_view>(opts_.label_names.begin(), opts_.label_names.end())); }

  long find_column(const std::vector<std::string_view>& columns, const std::string& name, size_t line) const {
    const auto it = std::find(columns.begin(), columns.end(), name);
    if (it == columns.end()) return -1;
    if (std::find(it + 1, columns.end(), name) != columns.end())
      throw Error(path_ + ":" + std::to_string(line) + ": the header names column '" + name + "' twice");
    return it - columns.begin();
  }

  const std::string& path_;
  const DatasetOptions& opts_;
  std::vector<Example> examples_;
  int64_t rows_ = 0, skipped_ = 0;
  size_t num_columns_ = 0;
  long text_col_ = -1, label_col_ = -1, id_col_ = -1;
};

void parse_tsv(std::string_view buf, RowCollector& rows) {
  std::vector<std::string_view> fields;
  for_each_line(buf, [&](std::string_view line, size_t number) {
    if (line.empty()) return;
    split_tabs(line, fields);
    if (rows.has_header())
      rows.add_fields(fields, number);
    else
      rows.set_header(fields, number);
  });
}

// RFC 4180 records: fields may be quoted, a quoted field may hold commas, newlines and
// doubled quotes. Unquoted fields are taken as they are (a stray quote stays text).
class CsvReader {
 public:
  CsvReader(std::string_view buf, const std::string& path) : buf_(buf), path_(path) {}

  // Reads the next non-blank record; false at the end of input. `error` is set (and the
  // rest of the physical line dropped) when a quoted field is followed by junk.
  bool next(std::vector<std::string_view>& fields, size_t& line, std::string& error) {
    while (pos_ < buf_.size() && at_line_end()) skip_line_end();
    if (pos_ >= buf_.size()) return false;
    line = line_;
    error.clear();
    storage_.clear();
    for (;;) {
      storage_.push_back(at('"') ? quoted_field(line) : unquoted_field());
      if (at(',')) {
        ++pos_;
        continue;
      }
      if (pos_ < buf_.size() && !at_line_end()) {
        error = "unexpected text after a closing quote";
        const size_t nl = buf_.find('\n', pos_);
        pos_ = nl == std::string_view::npos ? buf_.size() : nl;
      }
      if (pos_ < buf_.size()) skip_line_end();
      break;
    }
    fields.assign(storage_.begin(), storage_.end());
    return true;
  }

 private:
  bool at(char c) const { return pos_ < buf_.size() && buf_[pos_] == c; }
  bool at_line_end() const { return at('\n') || (at('\r') && pos_ + 1 < buf_.size() && buf_[pos_ + 1] == '\n'); }
  void skip_line_end() {
    pos_ += at('\r') ? 2 : 1;
    ++line_;
  }

  std::string unquoted_field() {
    const size_t start = pos_;
    while (pos_ < buf_.size() && !at(',') && !at_line_end()) ++pos_;
    return std::string(buf_.substr(start, pos_ - start));
  }

  std::string quoted_field(size_t record_line) {
    std::string out;
    ++pos_;  // opening quote
    for (;;) {
      const size_t quote = buf_.find('"', pos_);
      // Not a row error: everything after the quote would be swallowed, so never skip it.
      if (quote == std::string_view::npos)
        throw Error(path_ + ":" + std::to_string(record_line) + ": quoted field is never closed");
      const std::string_view part = buf_.substr(pos_, quote - pos_);
      line_ += std::count(part.begin(), part.end(), '\n');
      out += part;
      pos_ = quote + 1;
      if (!at('"')) return out;
      out += '"';
      ++pos_;
    }
  }

  std::string_view buf_;
  const std::string& path_;
  size_t pos_ = 0, line_ = 1;
  std::vector<std::string> storage_;
};

void parse_csv(std::string_view buf, const std::string& path, RowCollector& rows) {
  CsvReader reader(buf, path);
  std::vector<std::string_view> fields;
  std::string error;
  size_t line = 0;
  while (reader.next(fields, line, error)) {
    if (!rows.has_header()) {
      if (!error.empty()) throw Error(path + ":" + std::to_string(line) + ": header: " + error);
      rows.set_header(fields, line);
    } else if (!error.empty()) {
      rows.bad(line, error);
    } else {
      rows.add_fields(fields, line);
    }
  }
}

// A JSON id or label as text: strings as they are, integers in decimal.
std::optional<std::string> json_scalar_text(const nlohmann::json& v) {
  if (v.is_string()) return v.get<std::string>();
  if (v.is_number_integer()) return v.dump();
  return std::nullopt;
}

void parse_jsonl(std::string_view buf, const DatasetOptions& opts, RowCollector& rows) {
  for_each_line(buf, [&](std::string_view line, size_t number) {
    if (line.find_first_not_of(" \t") == std::string_view::npos) return;
    const auto row = nlohmann::json::parse(line.data(), line.data() + line.size(), nullptr, /*allow_exceptions=*/false);
    if (row.is_discarded()) return rows.bad(number, "invalid JSON");
    if (!row.is_object()) return rows.bad(number, "expected a JSON object");
    const auto text = row.find(opts.text_column);
    const auto label = row.find(opts.label_column);
    const auto id = row.find(opts.id_column);
    if (text == row.end()) return rows.bad(number, "missing field '" + opts.text_column + "'");
    if (label == row.end()) return rows.bad(number, "missing field '" + opts.label_column + "'");
    if (!text->is_string()) return rows.bad(number, "field '" + opts.text_column + "' is not a string");
    const auto label_text = json_scalar_text(*label);
    if (!label_text) return rows.bad(number, "field '" + opts.label_column + "' is not a string or an integer");
    std::optional<std::string> id_text;
    if (id != row.end()) {
      id_text = json_scalar_text(*id);
      if (!id_text) return rows.bad(number, "field '" + opts.id_column + "' is not a string or an integer");
    }
    rows.add(number, std::move(id_text), text->get_ref<const std::string&>(), *label_text);
  });
}

}  // namespace

std::vector<std::string> read_lines(const std::string& path) {
  const std::string buf = read_file(path);
  std::vector<std::string> lines;
  for_each_line(drop_bom(buf), [&](std::string_view line, size_t) { lines.emplace_back(line); });
  return lines;
}

TextColumn read_text_column(const std::string& path, const std::string& column) {
  return parse_text_column(read_file(path), path, column);
}

TextColumn parse_text_column(std::string_view contents, const std::string& path, const std::string& column) {
  const std::string_view buf = drop_bom(contents);
  TextColumn out;
  if (buf.substr(0, buf.find('\n')).find('\t') == std::string_view::npos) {
    for_each_line(buf, [&](std::string_view line, size_t number) {
      out.texts.emplace_back(line);
      out.lines.push_back(number);
    });
    if (out.texts.empty()) throw Error(path + ": empty input");
    return out;
  }
  std::vector<std::string_view> fields;
  size_t col = 0;
  for_each_line(buf, [&](std::string_view line, size_t number) {
    if (line.empty()) return;
    split_tabs(line, fields);
    if (number == 1) {
      col = static_cast<size_t>(std::find(fields.begin(), fields.end(), column) - fields.begin());
      if (col == fields.size())
        throw Error(path + ":1: no column '" + column + "' in the header (columns: " + join(fields) + ")");
      return;
    }
    if (fields.size() <= col)
      throw Error(path + ":" + std::to_string(number) + ": has " + std::to_string(fields.size()) + " fields, no '" +
                  column + "' column");
    out.texts.emplace_back(fields[col]);
    out.lines.push_back(number);
  });
  if (out.texts.empty()) throw Error(path + ": no rows after the header");
  return out;
}

Split split_stratified(const Dataset& ds, double fraction, uint64_t seed) {
  std::ostringstream shown;
  shown << fraction;
  if (!(fraction > 0 && fraction < 1))
    throw Error(ds.path + ": validation split must be a fraction in (0, 1), got " + shown.str());
  std::vector<std::vector<size_t>> by_label(ds.label_names.size());
  for (size_t i = 0; i < ds.examples.size(); ++i) by_label[static_cast<size_t>(ds.examples[i].label)].push_back(i);
  std::vector<bool> held(ds.examples.size(), false);
  for (size_t label = 0; label < by_label.size(); ++label) {
    const std::vector<size_t>& rows = by_label[label];
    const auto k = static_cast<size_t>(std::llround(fraction * static_cast<double>(rows.size())));
    // One stream per label, so a label's choice does not depend on how many rows the others have.
    for (size_t j : sample_without_replacement(rows.size(), k, splitmix64(seed ^ splitmix64(label)))) held[rows[j]] = true;
  }
  Split s;
  s.train.path = s.held_out.path = ds.path;
  s.train.label_names = s.held_out.label_names = ds.label_names;
  for (size_t i = 0; i < ds.examples.size(); ++i) (held[i] ? s.held_out : s.train).examples.push_back(ds.examples[i]);
  if (s.train.examples.empty() || s.held_out.examples.empty())
    throw Error(ds.path + ": a validation split of " + shown.str() + " of " + std::to_string(ds.examples.size()) +
                " examples leaves " + (s.train.examples.empty() ? "no training" : "no validation") + " examples");
  return s;
}

Dataset load_dataset(const std::string& path, const DatasetOptions& opts) {
  return parse_dataset(read_file(path), path, opts);
}

Dataset parse_dataset(std::string_view contents, const std::string& path, const DatasetOptions& opts) {
  const Format format = resolve_format(path, opts.format);
  RowCollector rows(path, opts);
  const std::string_view buf = drop_bom(contents);
  if (buf.find_first_not_of(" \t\r\n") == std::string_view::npos) throw Error(path + ": the file is empty");
  switch (format) {
    case Format::tsv: parse_tsv(buf, rows); break;
    case Format::csv: parse_csv(buf, path, rows); break;
    case Format::jsonl: parse_jsonl(buf, opts, rows); break;
  }
  return rows.finish();
}

}  // namespace ft::data
