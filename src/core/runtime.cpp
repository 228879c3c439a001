#include "core/runtime.h"

#include <ATen/CPUGeneratorImpl.h>
#include <ATen/Parallel.h>
#include <torch/cuda.h>

#ifdef FT_WITH_CUDA
#include <ATen/cuda/CUDAGeneratorImpl.h>
#include <c10/cuda/CUDAFunctions.h>
#endif

#include <cstdlib>
#include <thread>

#include "core/error.h"
#include "core/log.h"

namespace ft {

void set_threads(int n) {
  const char* omp = std::getenv("OMP_NUM_THREADS");
  if (n <= 0 && omp) n = std::atoi(omp);
  const int cores = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  if (n <= 0) n = cores;
  // More threads than cores only adds contention (and 100000 would exhaust the process).
  if (n > cores) {
    warn("--threads " + std::to_string(n) + ": this machine has " + std::to_string(cores) + " cores; using " +
         std::to_string(cores));
    n = cores;
  }
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

void set_current_device(const std::string& device) {
  if (device.rfind("cuda:", 0) != 0) return;
  const int index = std::stoi(device.substr(5));
  const int count = static_cast<int>(torch::cuda::device_count());
  if (index >= count)
    throw Error(device + ": this machine has " + std::to_string(count) + " CUDA device" + (count == 1 ? "" : "s") +
                " (a rank's LOCAL_RANK picks its GPU)");
#ifdef FT_WITH_CUDA
  c10::cuda::set_device(static_cast<c10::DeviceIndex>(index));
#endif
}

namespace {

torch::Tensor state_of(at::Generator gen) {
  std::lock_guard<std::mutex> lock(gen.mutex());
  return gen.get_state();
}

void set_state_of(at::Generator gen, const torch::Tensor& state) {
  std::lock_guard<std::mutex> lock(gen.mutex());
  gen.set_state(state);
}

}  // namespace

std::map<std::string, torch::Tensor> generator_states() {
  std::map<std::string, torch::Tensor> out{{"cpu", state_of(at::detail::getDefaultCPUGenerator())}};
#ifdef FT_WITH_CUDA
  if (torch::cuda::is_available()) out["cuda"] = state_of(at::cuda::detail::getDefaultCUDAGenerator());
#endif
  return out;
}

void restore_generator_states(const std::map<std::string, torch::Tensor>& states, const std::string& source) {
  for (const auto& [name, state] : states) {
    try {
      if (name == "cpu") {
        set_state_of(at::detail::getDefaultCPUGenerator(), state);
        continue;
      }
#ifdef FT_WITH_CUDA
      if (name == "cuda" && torch::cuda::is_available()) {
        set_state_of(at::cuda::detail::getDefaultCUDAGenerator(), state);
        continue;
      }
#endif
    } catch (const c10::Error& e) {
      throw Error(source + ": random generator state '" + name + "' does not fit this build (" + e.what_without_backtrace() + ")");
    }
    throw Error(source + ": random generator state '" + name + "' needs a device this machine does not have");
  }
}

}  // namespace ft
