// File helpers: whole-file reads with clear errors, and atomic writes (temp file + rename),
// so an interrupted or failed write never leaves a half-written output behind.
#pragma once
#include <cstdint>
#include <functional>
#include <iosfwd>
#include <nlohmann/json_fwd.hpp>
#include <string>
#include <string_view>
#include <vector>

namespace ft {

// Limits on what a hostile or mistaken input can make us hold: a file read whole, a JSON document.
constexpr uint64_t kMaxFileBytes = uint64_t{8} << 30;   // weights read whole (pytorch_model.bin)
constexpr uint64_t kMaxTextBytes = uint64_t{2} << 30;   // a data file, a corpus, a vocabulary
constexpr uint64_t kMaxLineBytes = uint64_t{4} << 20;   // one line of such a file
constexpr uint64_t kMaxJsonBytes = uint64_t{1} << 30;   // config, tokenizer.json, trainer_state.json
constexpr int kMaxJsonDepth = 128;                      // arrays and objects within each other

// Reads a whole file (or stream: a FIFO, /dev/stdin); past `max_bytes` it stops with an error naming
// the limit, so an endless stream cannot exhaust memory.
std::string read_file(const std::string& path, uint64_t max_bytes = kMaxFileBytes);
// The same for a text file of lines, which also stops at a line longer than `max_line`, naming its number.
std::string read_text_file(const std::string& path, uint64_t max_bytes = kMaxTextBytes, uint64_t max_line = kMaxLineBytes);
// "2 GiB", "4 MiB", "512 bytes": a limit as an error message gives it.
std::string byte_size_text(uint64_t bytes);

// Parses a JSON file; errors name the file and the line, never the JSON library.
nlohmann::json read_json(const std::string& path);
// The same for JSON text already in memory; `source` names it in errors.
nlohmann::json parse_json(std::string_view text, const std::string& source);
// Throws when arrays/objects nest deeper than kMaxJsonDepth (the JSON library recurses on them, and a
// few hundred kB of '[' would exhaust the stack); strings are skipped. Call before any JSON parse.
void check_json_depth(std::string_view text, const std::string& source);

// Writes through `fill` into a new temporary file beside `path` (created with O_EXCL|O_NOFOLLOW, so a
// planted file or link is never written through), checks the stream, then renames over `path` (which
// replaces a link at `path` rather than writing where it points).
void write_file_atomic(const std::string& path, const std::function<void(std::ostream&)>& fill);
void write_file_atomic(const std::string& path, const std::string& bytes);
void write_json_atomic(const std::string& path, const nlohmann::json& j);

// One path component a user may name a folder of ours by (an arm, a run): not empty, not "." or "..",
// no '/' or control characters, at most 255 bytes.
bool plain_name(const std::string& name);

bool file_exists(const std::string& path);
bool dir_exists(const std::string& path);
std::string join_path(const std::string& dir, const std::string& name);
void make_dirs(const std::string& dir);

// Directory walks use POSIX calls, not std::filesystem: the libtorch in PyTorch's pip wheels exports
// its own older std::filesystem::remove_all (and friends), and a binary that binds to it crashes.
void remove_tree(const std::string& path);                 // recursively; absent is fine
std::vector<std::string> list_dir(const std::string& dir);  // entries' paths, sorted; none if absent
std::vector<std::string> files_below(const std::string& dir);  // regular files, recursively, sorted

}  // namespace ft
