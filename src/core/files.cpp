#include "core/files.h"

#include <dirent.h>
#include <fcntl.h>
#include <ftw.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <sstream>
#include <streambuf>

#include "core/error.h"

namespace ft {
namespace fs = std::filesystem;

std::string byte_size_text(uint64_t bytes) {
  const char* units[] = {"bytes", "KiB", "MiB", "GiB"};
  int u = 0;
  while (u < 3 && bytes >= 1024 && bytes % 1024 == 0) bytes /= 1024, ++u;
  return std::to_string(bytes) + " " + units[u];
}

namespace {

// Reads `path` whole in chunks; `max_line` > 0 also bounds every line.
std::string read_bounded(const std::string& path, uint64_t max_bytes, uint64_t max_line) {
  if (dir_exists(path)) throw Error(path + ": is a directory, expected a file");
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (!f) throw Error(path + ": cannot open (" + std::strerror(errno) + ")");
  std::string out;
  struct stat st {};
  if (::fstat(::fileno(f), &st) == 0 && S_ISREG(st.st_mode) && static_cast<uint64_t>(st.st_size) <= max_bytes)
    out.reserve(static_cast<size_t>(st.st_size));
  uint64_t line = 1, line_bytes = 0;
  char chunk[1 << 16];
  while (size_t n = std::fread(chunk, 1, sizeof chunk, f)) {
    if (out.size() + n > max_bytes) {
      std::fclose(f);
      throw Error(path + ": larger than " + byte_size_text(max_bytes) + ", the limit for this kind of file");
    }
    if (max_line > 0) {
      for (size_t i = 0; i < n; ++i) {
        if (chunk[i] == '\n') {
          ++line, line_bytes = 0;
        } else if (++line_bytes > max_line) {
          std::fclose(f);
          throw Error(path + ":" + std::to_string(line) + ": line longer than " + byte_size_text(max_line) +
                      ", the limit for a line (is this a text file?)");
        }
      }
    }
    out.append(chunk, n);
  }
  const bool failed = std::ferror(f);
  std::fclose(f);
  if (failed) throw Error(path + ": read failed");
  return out;
}

// nlohmann's messages start with "[json.exception.parse_error.101] parse error at line 1, column 2: ";
// the user needs what follows (the file and line are ours to give).
std::string json_reason(const std::string& what) {
  std::string s = what;
  if (s.rfind("[json.exception.", 0) == 0 && s.find("] ") != std::string::npos) s = s.substr(s.find("] ") + 2);
  if (s.rfind("parse error", 0) == 0 && s.find(": ") != std::string::npos) s = s.substr(s.find(": ") + 2);
  return s;
}

}  // namespace

std::string read_file(const std::string& path, uint64_t max_bytes) { return read_bounded(path, max_bytes, 0); }

std::string read_text_file(const std::string& path, uint64_t max_bytes, uint64_t max_line) {
  return read_bounded(path, max_bytes, max_line);
}

void check_json_depth(std::string_view text, const std::string& source) {
  int depth = 0;
  bool in_string = false;
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (in_string) {
      if (c == '\\') ++i;
      else if (c == '"') in_string = false;
    } else if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      if (++depth > kMaxJsonDepth) {
        const long line = 1 + std::count(text.begin(), text.begin() + static_cast<long>(i), '\n');
        throw Error(source + ":" + std::to_string(line) + ": JSON nested deeper than " + std::to_string(kMaxJsonDepth) +
                    " levels, the limit");
      }
    } else if (c == ']' || c == '}') {
      --depth;
    }
  }
}

nlohmann::json read_json(const std::string& path) { return parse_json(read_file(path, kMaxJsonBytes), path); }

nlohmann::json parse_json(std::string_view text, const std::string& source) {
  check_json_depth(text, source);
  try {
    return nlohmann::json::parse(text);
  } catch (const nlohmann::json::parse_error& e) {
    // Translate the byte offset into a line number, which is what a user can act on.
    const size_t at = std::min<size_t>(e.byte, text.size());
    const long line = 1 + std::count(text.begin(), text.begin() + static_cast<long>(at), '\n');
    throw Error(source + ":" + std::to_string(line) + ": invalid JSON (" + json_reason(e.what()) + ")");
  } catch (const nlohmann::json::exception& e) {
    // Not a syntax error but a value JSON cannot hold here, e.g. a number past a double's range.
    throw Error(source + ": invalid JSON (" + json_reason(e.what()) + ")");
  }
}

namespace {

// An ostream's buffer over a file descriptor we opened ourselves (std::ofstream cannot take O_EXCL).
class FdBuf : public std::streambuf {
 public:
  explicit FdBuf(int fd) : fd_(fd) { setp(buf_, buf_ + sizeof buf_); }
  ~FdBuf() override { sync(); }

 protected:
  int_type overflow(int_type c) override {
    if (sync() != 0) return traits_type::eof();
    if (c != traits_type::eof()) sputc(static_cast<char>(c));
    return traits_type::not_eof(c);
  }
  int sync() override {
    for (const char* p = pbase(); p < pptr();) {
      const ssize_t n = ::write(fd_, p, static_cast<size_t>(pptr() - p));
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return -1;
      p += n;
    }
    setp(buf_, buf_ + sizeof buf_);
    return 0;
  }

 private:
  int fd_;
  char buf_[1 << 16];
};

}  // namespace

void write_file_atomic(const std::string& path, const std::function<void(std::ostream&)>& fill) {
  static int counter = 0;
  const std::string tmp = path + ".tmp." + std::to_string(::getpid()) + "." + std::to_string(counter++);
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
  if (fd < 0) throw Error(path + ": cannot write (" + std::strerror(errno) + ")");
  bool ok = false;
  try {
    FdBuf buf(fd);
    std::ostream out(&buf);
    fill(out);
    out.flush();
    ok = static_cast<bool>(out);
  } catch (...) {
    ::close(fd);
    ::unlink(tmp.c_str());
    throw;
  }
  if (::close(fd) != 0) ok = false;
  if (!ok) {
    ::unlink(tmp.c_str());
    throw Error(path + ": write failed (disk full?)");
  }
  // rename replaces whatever `path` is, a link included, and never writes through it.
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    const std::string why = std::strerror(errno);
    ::unlink(tmp.c_str());
    throw Error(path + ": cannot rename temporary file into place (" + why + ")");
  }
}

void write_file_atomic(const std::string& path, const std::string& bytes) {
  write_file_atomic(path, [&](std::ostream& out) { out.write(bytes.data(), static_cast<std::streamsize>(bytes.size())); });
}

void write_json_atomic(const std::string& path, const nlohmann::json& j) {
  write_file_atomic(path, j.dump(2) + "\n");
}

bool plain_name(const std::string& name) {
  if (name.empty() || name.size() > 255 || name == "." || name == "..") return false;
  return std::none_of(name.begin(), name.end(), [](char c) { return c == '/' || (static_cast<unsigned char>(c) < 0x20) || c == 0x7f; });
}

bool file_exists(const std::string& path) {
  std::error_code ec;
  return fs::is_regular_file(path, ec);
}

bool dir_exists(const std::string& path) {
  std::error_code ec;
  return fs::is_directory(path, ec);
}

std::string join_path(const std::string& dir, const std::string& name) {
  return (fs::path(dir) / name).string();
}

void make_dirs(const std::string& dir) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) throw Error(dir + ": cannot create directory (" + ec.message() + ")");
}

void remove_tree(const std::string& path) {
  struct stat st {};
  if (::lstat(path.c_str(), &st) != 0) return;
  auto remove_one = [](const char* p, const struct stat*, int, struct FTW*) { return ::remove(p) == 0 ? 0 : -1; };
  if (::nftw(path.c_str(), remove_one, 16, FTW_DEPTH | FTW_PHYS) != 0)
    throw Error(path + ": cannot remove (" + std::strerror(errno) + ")");
}

std::vector<std::string> list_dir(const std::string& dir) {
  std::vector<std::string> out;
  DIR* d = ::opendir(dir.c_str());
  if (!d) return out;
  while (const dirent* e = ::readdir(d)) {
    const std::string name = e->d_name;
    if (name != "." && name != "..") out.push_back(join_path(dir, name));
  }
  ::closedir(d);
  std::sort(out.begin(), out.end());
  return out;
}

std::vector<std::string> files_below(const std::string& dir) {
  static thread_local std::vector<std::string>* found = nullptr;
  std::vector<std::string> out;
  found = &out;
  auto visit = [](const char* p, const struct stat*, int type, struct FTW*) {
    if (type == FTW_F) found->push_back(p);
    return 0;
  };
  if (dir_exists(dir)) ::nftw(dir.c_str(), visit, 16, FTW_PHYS);
  found = nullptr;
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace ft
