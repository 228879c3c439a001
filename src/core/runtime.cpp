#include "core/runtime.h"

#include <ATen/Parallel.h>
#include <torch/cuda.h>

#include <thread>

#include "core/error.h"

namespace ft {

void set_threads(int n) {
  if (n <= 0) n = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  at::set_num_threads(n);
}

int num_threads() { return at::get_num_threads(); }

std::string resolve_device(const std::string& requested) {
  if (requested == "cpu") return "cpu";
  if (requested == "cuda") {
    if (!torch::cuda::is_available()) throw Error("--device cuda: no CUDA device available in this build/machine");
    return "cuda";
  }
  if (requested == "auto") return torch::cuda::is_available() ? "cuda" : "cpu";
  throw Error("--device must be auto, cpu or cuda (got '" + requested + "')");
}

}  // namespace ft
