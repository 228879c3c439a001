#include "core/resources.h"

#include <sys/resource.h>

#include <filesystem>

#ifdef FT_WITH_CUDA
#include <c10/cuda/CUDACachingAllocator.h>
#include <torch/cuda.h>
#endif

namespace ft {

int64_t peak_rss_bytes() {
  struct rusage usage {};
  getrusage(RUSAGE_SELF, &usage);
  return static_cast<int64_t>(usage.ru_maxrss) * 1024;  // Linux reports KiB
}

#ifdef FT_WITH_CUDA
namespace {
using c10::cuda::CUDACachingAllocator::StatType;
constexpr size_t kAll = static_cast<size_t>(StatType::AGGREGATE);
}  // namespace
int64_t cuda_peak_allocated_bytes() {
  if (!torch::cuda::is_available()) return 0;
  return c10::cuda::CUDACachingAllocator::getDeviceStats(0).allocated_bytes[kAll].peak;
}
int64_t cuda_peak_reserved_bytes() {
  if (!torch::cuda::is_available()) return 0;
  return c10::cuda::CUDACachingAllocator::getDeviceStats(0).reserved_bytes[kAll].peak;
}
void reset_cuda_peak_stats() {
  if (torch::cuda::is_available()) c10::cuda::CUDACachingAllocator::resetPeakStats(0);
}
#else
int64_t cuda_peak_allocated_bytes() { return 0; }
int64_t cuda_peak_reserved_bytes() { return 0; }
void reset_cuda_peak_stats() {}
#endif

int64_t directory_bytes(const std::string& dir) {
  int64_t total = 0;
  std::error_code ec;
  for (const auto& e : std::filesystem::recursive_directory_iterator(dir, ec))
    if (e.is_regular_file(ec)) total += static_cast<int64_t>(e.file_size(ec));
  return total;
}

}  // namespace ft
