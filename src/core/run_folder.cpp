#include "core/run_folder.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <nlohmann/json.hpp>
#include <random>

#include "core/error.h"
#include "core/files.h"

namespace ft {
namespace {

// The absolute path with every link resolved, for a path that may not exist yet: its longest
// existing prefix resolved, the rest appended.
std::string resolved(const std::string& path) {
  std::string p = path.empty() ? "." : path;
  while (p.size() > 1 && p.back() == '/') p.pop_back();
  char buf[PATH_MAX];
  if (::realpath(p.c_str(), buf)) return buf;
  const size_t slash = p.find_last_of('/');
  const std::string parent = slash == std::string::npos ? "." : slash == 0 ? "/" : p.substr(0, slash);
  const std::string name = slash == std::string::npos ? p : p.substr(slash + 1);
  const std::string base = resolved(parent);
  return base == "/" ? "/" + name : base + "/" + name;
}

bool inside(const std::string& path, const std::string& folder) {
  return path.size() > folder.size() && path.compare(0, folder.size(), folder) == 0 &&
         (folder == "/" || path[folder.size()] == '/');
}

void check_apart_from_inputs(const std::string& dir, const ClaimOptions& o) {
  const std::string out = resolved(dir);
  for (const std::string& input : o.inputs) {
    if (input.empty()) continue;
    const std::string in = resolved(input);
    std::string why;
    if (out == in) why = "is " + input + ", which " + o.command + " reads";
    else if (inside(in, out)) why = "contains " + input + ", which " + o.command + " reads";
    else if (inside(out, in) && !written_by_finetune(in)) why = "lies inside " + input + ", which " + o.command + " reads";
    if (!why.empty()) throw Error("--output-dir " + dir + ": " + why + "; give another folder, so that nothing there is overwritten");
  }
}

bool empty_folder(const std::string& dir) { return list_dir(dir).empty(); }

std::string random_run_id() {
  std::random_device rd;
  char id[17];
  std::snprintf(id, sizeof id, "%08x%08x", rd(), rd());
  return id;
}

std::string now_utc() {
  const std::time_t t = std::time(nullptr);
  std::tm tm {};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

// Who holds a marker's lock, as its contents say: "pid 123, train since 2026-…".
std::string holder(const std::string& marker) {
  try {
    const nlohmann::json j = parse_json(read_file(marker, 1 << 16), marker);
    return "pid " + std::to_string(j.at("pid").get<long long>()) + ", " + j.at("command").get<std::string>() + " since " +
           j.at("started").get<std::string>();
  } catch (const std::exception&) {
    return "another process";
  }
}

void write_all(int fd, const std::string& text, const std::string& path) {
  if (::ftruncate(fd, 0) != 0 || ::pwrite(fd, text.data(), text.size(), 0) != static_cast<ssize_t>(text.size()))
    throw Error(path + ": cannot write (" + std::strerror(errno) + ")");
}

}  // namespace

RunFolder RunFolder::claim(const std::string& dir, const ClaimOptions& o) {
  check_apart_from_inputs(dir, o);
  struct stat st {};
  if (::stat(dir.c_str(), &st) == 0 && !S_ISDIR(st.st_mode)) throw Error("--output-dir " + dir + ": is a file, not a folder");
  const std::string marker = join_path(dir, kRunMarker);
  if (dir_exists(dir) && !empty_folder(dir) && !written_by_finetune(dir) && !o.overwrite_output_dir)
    throw Error("--output-dir " + dir + ": not empty and not a finetune run folder; give another folder, or " +
                "--overwrite-output-dir to write into it");
  make_dirs(dir);
  const int fd = ::open(marker.c_str(), O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0644);
  if (fd < 0) throw Error(marker + ": cannot open (" + std::strerror(errno) + ")");
  if (::flock(fd, (o.shared ? LOCK_SH : LOCK_EX) | LOCK_NB) != 0) {
    ::close(fd);
    throw Error("--output-dir " + dir + ": in use by another finetune run (" + holder(marker) + ")");
  }
  RunFolder folder(dir, fd);
  if (!o.shared) {
    const nlohmann::json j = {{"finetune_run", 1}, {"run_id", random_run_id()}, {"command", o.command},
                              {"pid", static_cast<long long>(::getpid())}, {"started", now_utc()}};
    write_all(fd, j.dump(2) + "\n", marker);
  }
  return folder;
}

RunFolder::RunFolder(RunFolder&& other) noexcept : dir_(std::move(other.dir_)), fd_(other.fd_) { other.fd_ = -1; }

RunFolder::~RunFolder() {
  if (fd_ >= 0) ::close(fd_);
}

bool written_by_finetune(const std::string& path) {
  struct stat st {};
  if (::lstat(path.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) return false;
  return ::lstat(join_path(path, kRunMarker).c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

void mark_written_by_finetune(const std::string& dir) {
  write_json_atomic(join_path(dir, kRunMarker), {{"finetune_run", 1}, {"written", now_utc()}});
}

void remove_our_folder(const std::string& path) {
  struct stat st {};
  if (::lstat(path.c_str(), &st) != 0) return;
  if (!written_by_finetune(path)) throw Error(path + ": not written by finetune, so it is left as it is; move it away");
  remove_tree(path);
}

}  // namespace ft
