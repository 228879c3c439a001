// What a run costs: peak memory of this process (CPU RSS, CUDA allocator) and wall time.
#pragma once
#include <chrono>
#include <cstdint>
#include <string>

namespace ft {

int64_t peak_rss_bytes();
// Peak bytes allocated / reserved by libtorch's CUDA allocator since start or the last reset; 0 on CPU builds.
int64_t cuda_peak_allocated_bytes();
int64_t cuda_peak_reserved_bytes();
void reset_cuda_peak_stats();

// Total size of the regular files under a directory (a checkpoint's footprint on disk).
int64_t directory_bytes(const std::string& dir);

class Stopwatch {
 public:
  Stopwatch() : start_(std::chrono::steady_clock::now()) {}
  double seconds() const { return std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count(); }

 private:
  std::chrono::steady_clock::time_point start_;
};

}  // namespace ft
