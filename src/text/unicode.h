// Character classes and transforms with exactly the semantics of Hugging Face's slow BertTokenizer
// (which uses Python's unicodedata and str methods); the Unicode tables come from utf8proc.
#pragma once
#include <string>
#include <string_view>

namespace ft::text {

// Strict UTF-8 → code points (overlongs, surrogates and values past U+10FFFF are rejected);
// throws ft::Error naming the byte offset of the first bad sequence.
void decode_utf8(std::string_view in, std::u32string& out);
// The code point starting at byte i: its length in bytes, or 0 when the sequence there is invalid.
size_t next_utf8(std::string_view in, size_t i, char32_t& cp);
// Byte offset of the first invalid sequence, or npos when `s` is valid UTF-8.
size_t find_invalid_utf8(std::string_view s);
void append_utf8(char32_t cp, std::string& out);
std::string to_utf8(std::u32string_view cps);

// HF `_is_control`: any category C* character except \t \n \r (those count as whitespace).
bool is_control(char32_t cp);
// HF `_is_whitespace`: space, \t, \n, \r and category Zs.
bool is_bert_whitespace(char32_t cp);
// Python's str.isspace(): what str.split() splits on.
bool is_python_space(char32_t cp);
// HF `_is_punctuation`: category P* plus every non-alphanumeric printable ASCII character.
bool is_punctuation(char32_t cp);
// HF `_is_chinese_char`: the CJK ideograph blocks (Hangul and kana are not in them).
bool is_cjk_ideograph(char32_t cp);

// Python's `ch.lower()` for a single character (full case mapping: U+0130 becomes two code points).
void append_lower(char32_t cp, std::u32string& out);
// HF `_run_strip_accents`: NFD, then drop every category Mn character.
void strip_accents(std::u32string_view in, std::u32string& out);

}  // namespace ft::text
