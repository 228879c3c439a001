#include "text/rows.h"

#include <string_view>

#include "core/error.h"
#include "core/files.h"

namespace ft::text {
namespace {

std::vector<std::string_view> split_tabs(std::string_view line) {
  std::vector<std::string_view> fields;
  for (size_t start = 0;;) {
    const size_t tab = line.find('\t', start);
    fields.push_back(line.substr(start, tab == std::string_view::npos ? std::string_view::npos : tab - start));
    if (tab == std::string_view::npos) return fields;
    start = tab + 1;
  }
}

}  // namespace

TextRows read_text_rows(const std::string& path, const std::string& column) {
  const std::string data = read_file(path);
  std::vector<std::string_view> lines;
  for (size_t start = 0; start < data.size();) {
    size_t end = data.find('\n', start);
    if (end == std::string::npos) end = data.size();
    std::string_view line(data.data() + start, end - start);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    lines.push_back(line);
    start = end + 1;
  }
  if (lines.empty()) throw Error(path + ": empty input");

  TextRows rows;
  if (lines[0].find('\t') == std::string_view::npos) {
    for (size_t i = 0; i < lines.size(); ++i) {
      rows.texts.emplace_back(lines[i]);
      rows.lines.push_back(i + 1);
    }
    return rows;
  }
  const auto header = split_tabs(lines[0]);
  size_t col = 0;
  while (col < header.size() && header[col] != column) ++col;
  if (col == header.size()) {
    std::string names;
    for (auto h : header) names += (names.empty() ? "" : ", ") + std::string(h);
    throw Error(path + ":1: no column '" + column + "' in the header (columns: " + names + ")");
  }
  for (size_t i = 1; i < lines.size(); ++i) {
    const auto fields = split_tabs(lines[i]);
    if (fields.size() <= col)
      throw Error(path + ":" + std::to_string(i + 1) + ": has " + std::to_string(fields.size()) +
                  " fields, no '" + column + "' column");
    rows.texts.emplace_back(fields[col]);
    rows.lines.push_back(i + 1);
  }
  if (rows.texts.empty()) throw Error(path + ": no rows after the header");
  return rows;
}

}  // namespace ft::text
