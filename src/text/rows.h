// Texts to tokenize from a file: if the first line contains a TAB the file is a TSV with a header and
// `column` picks the field (rows split on TAB only, quotes are text, as pandas' quoting=3 reads NSMC);
// otherwise every line is one text. LF or CRLF line ends; a final newline adds no row.
#pragma once
#include <string>
#include <vector>

namespace ft::text {

struct TextRows {
  std::vector<std::string> texts;
  std::vector<size_t> lines;  // 1-based line of each text, for error messages
};

// Throws ft::Error naming the file (and line) for a missing column, a short row or an input without rows.
TextRows read_text_rows(const std::string& path, const std::string& column = "document");

}  // namespace ft::text
