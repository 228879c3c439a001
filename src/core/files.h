// File helpers: whole-file reads with clear errors, and atomic writes (temp file + rename),
// so an interrupted or failed write never leaves a half-written output behind.
#pragma once
#include <functional>
#include <iosfwd>
#include <nlohmann/json_fwd.hpp>
#include <string>
#include <string_view>
#include <vector>

namespace ft {

std::string read_file(const std::string& path);

// Parses a JSON file; errors name the file and the line.
nlohmann::json read_json(const std::string& path);
// The same for JSON text already in memory; `source` names it in errors.
nlohmann::json parse_json(std::string_view text, const std::string& source);

// Writes through `fill` into `path + ".tmp.<pid>"`, checks the stream, then renames over `path`.
void write_file_atomic(const std::string& path, const std::function<void(std::ostream&)>& fill);
void write_file_atomic(const std::string& path, const std::string& bytes);
void write_json_atomic(const std::string& path, const nlohmann::json& j);

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
