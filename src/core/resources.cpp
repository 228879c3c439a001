#include "core/resources.h"

#include <sys/resource.h>

#include <filesystem>

#ifdef FT_WITH_CUDA
#include <c10/cuda/CUDACachingAllocator.h>
#include <c10/cuda/CUDAFunctions.h>
#include <torch/cuda.h>
#endif

#include "core/files.h"

namespace ft {

int64_t peak_rss_bytes() {
  struct rusage usage {};
  getrusage(RUSAGE_SELF, &usage);
  return static_cast<int64_t>(usage.ru_maxrss) * 1024;  // Linux reports KiB
}

#ifdef FT_WITH_CUDA
namespace {
// StatType::AGGREGATE: 0 in every version, though the enum's namespace moved in 2.x.
constexpr size_t kAll = 0;
}  // namespace
int64_t cuda_peak_allocated_bytes() {
  if (!torch::cuda::is_available()) return 0;
  return c10::cuda::CUDACachingAllocator::getDeviceStats(c10::cuda::current_device()).allocated_bytes[kAll].peak;
}
int64_t cuda_peak_reserved_bytes() {
  if (!torch::cuda::is_available()) return 0;
  return c10::cuda::CUDACachingAllocator::getDeviceStats(c10::cuda::current_device()).reserved_bytes[kAll].peak;
}
void reset_cuda_peak_stats() {
  if (torch::cuda::is_available()) c10::cuda::CUDACachingAllocator::resetPeakStats(c10::cuda::current_device());
}
#else
int64_t cuda_peak_allocated_bytes() { return 0; }
int64_t cuda_peak_reserved_bytes() { return 0; }
void reset_cuda_peak_stats() {}
#endif

int64_t directory_bytes(const std::string& dir) {
  int64_t total = 0;
  for (const std::string& file : files_below(dir)) {
    std::error_code ec;
    const auto size = std::filesystem::file_size(file, ec);
    if (!ec) total += static_cast<int64_t>(size);
  }
  return total;
}

}  // namespace ft
