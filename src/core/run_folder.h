// Output folders that are ours alone. A folder a command writes into carries `.finetune-run` (JSON:
// command, run id, pid, start time): it marks the folder as one of our runs, and it is locked
// (flock) while a run writes there, so a second run on the same folder is refused. The kernel
// releases the lock when the process ends, kill -9 included. Checkpoint folders carry the same file,
// and only folders that carry it are ever deleted.
#pragma once
#include <string>
#include <vector>

namespace ft {

constexpr const char* kRunMarker = ".finetune-run";

struct ClaimOptions {
  std::string command;              // "train", "merge", ...: recorded in the marker and in errors
  std::vector<std::string> inputs;  // model, adapter and tokenizer folders the command reads
  bool overwrite_output_dir = false;  // allow a non-empty folder that is not one of our runs
  bool shared = false;  // a shared lock: one task of several writing disjoint parts (compare --only)
};

class RunFolder {
 public:
  // Creates `dir` if needed, locks and marks it. Throws ft::Error, before touching anything, when
  // `dir` is, contains or lies inside one of `inputs` (inside is allowed when the input is itself a
  // run of ours, as a robustness folder inside its arm), when it is not empty and not one of our runs
  // (unless overwrite_output_dir), or when another live process holds it.
  static RunFolder claim(const std::string& dir, const ClaimOptions& options);

  RunFolder(RunFolder&& other) noexcept;
  RunFolder& operator=(RunFolder&&) = delete;
  ~RunFolder();  // releases the lock; the marker stays

  const std::string& dir() const { return dir_; }

 private:
  RunFolder(std::string dir, int fd) : dir_(std::move(dir)), fd_(fd) {}
  std::string dir_;
  int fd_ = -1;
};

// Whether `path` is a real folder (not a link) that carries our marker.
bool written_by_finetune(const std::string& path);
// Marks a folder this process created (a checkpoint) as ours.
void mark_written_by_finetune(const std::string& dir);
// Removes `path` when it is absent or ours; a folder of someone else's (or a link, or a file) is left
// as it is and is an error naming it.
void remove_our_folder(const std::string& path);

}  // namespace ft
