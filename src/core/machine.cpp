#include "core/machine.h"

#include <ATen/Parallel.h>
#include <ATen/Version.h>
#include <dlfcn.h>
#include <sched.h>
#include <torch/cuda.h>
#include <torch/torch.h>
#include <torch/version.h>

#include <algorithm>
#include <regex>
#include <thread>

#include "core/blas_kernel.h"
#include "core/cpuinfo.h"
#include "core/resources.h"

#ifdef FT_WITH_CUDA
#include <ATen/cuda/CUDAContext.h>
#endif

namespace ft {
namespace {

// The instruction sets that decide which kernels a BLAS can run, as /proc/cpuinfo names them.
std::vector<std::string> isa_flags(const CpuInfo& cpu) {
  static const char* const kWanted[] = {"sse4_2", "avx", "fma", "avx2", "avx512f", "avx512bw", "avx512_vnni",
                                        "avx512_bf16", "avx512_fp16", "avx_vnni", "amx_tile", "amx_bf16"};
  std::vector<std::string> out;
  for (const char* w : kWanted)
    if (cpu.has(w)) out.emplace_back(w);
  return out;
}

bool has(const nlohmann::json& facts, const char* flag) {
  const auto& f = facts["cpu"]["isa"];
  return std::find(f.begin(), f.end(), flag) != f.end();
}

// A "KEY=VALUE" entry of at::show_config()'s build settings line.
std::string config_value(const std::string& config, const std::string& key) {
  const std::regex re("[ ,]" + key + "=([^,\n]*)");
  std::smatch m;
  return std::regex_search(config, m, re) ? m[1].str() : "";
}

// The value of a "  - NAME: value" line of at::show_config().
std::string config_line(const std::string& config, const std::string& name) {
  const std::regex re(name + ": ([^\n]*)");
  std::smatch m;
  return std::regex_search(config, m, re) ? m[1].str() : "";
}

nlohmann::json blas_facts(const std::string& config, const CpuInfo& cpu) {
  nlohmann::json b;
  const std::string info = config_value(config, "BLAS_INFO");
  b["library"] = info.empty() ? "unknown" : info;
  // OpenBLAS picks its kernels at load time from the CPU (or OPENBLAS_CORETYPE): ask it which.
  if (const auto kernel = openblas_kernel()) {
    b["library"] = "openblas";
    b["kernel"] = *kernel;
    using NameFn = char* (*)();
    if (auto cfg = reinterpret_cast<NameFn>(dlsym(RTLD_DEFAULT, "openblas_get_config"))) b["config"] = cfg();
    const char* forced = std::getenv("OPENBLAS_CORETYPE");
    b["kernel_forced_by"] = forced ? std::string("OPENBLAS_CORETYPE=") + forced : "";
    const char* from = std::getenv("FT_BLAS_KERNEL_FROM");  // set by ensure_best_blas_kernel's restart
    b["corrected_from"] = from ? from : "";
    // Kernels older than the CPU runs, as a user's OPENBLAS_CORETYPE can force.
    const auto better = better_openblas_kernel(*kernel, cpu);
    b["better_kernel"] = better ? *better : "";
  } else if (info == "mkl") {
    std::smatch m;
    static const std::regex re("Intel\\(R\\)[^\n]*Math Kernel Library Version ([^ \n]+)");
    if (std::regex_search(config, m, re)) b["version"] = m[1].str();
    const char* forced = std::getenv("MKL_ENABLE_INSTRUCTIONS");
    b["kernel_forced_by"] = forced ? std::string("MKL_ENABLE_INSTRUCTIONS=") + forced : "";
  }
  return b;
}

nlohmann::json gpu_facts() {
  nlohmann::json gpus = nlohmann::json::array();
#ifdef FT_WITH_CUDA
  if (torch::cuda::is_available()) {
    for (int64_t i = 0; i < static_cast<int64_t>(torch::cuda::device_count()); ++i) {
      const cudaDeviceProp* p = at::cuda::getDeviceProperties(static_cast<c10::DeviceIndex>(i));
      gpus.push_back({{"index", i}, {"name", p->name}, {"memory_bytes", static_cast<int64_t>(p->totalGlobalMem)},
                      {"compute_capability", std::to_string(p->major) + "." + std::to_string(p->minor)},
                      {"multiprocessors", p->multiProcessorCount}});
    }
  }
#endif
  return gpus;
}

double matmul_gflops(torch::ScalarType dtype, double seconds, int64_t n) {
  const auto opts = torch::TensorOptions().dtype(dtype);
  const torch::Tensor a = torch::randn({n, n}, opts), b = torch::randn({n, n}, opts);
  torch::matmul(a, b);  // warm-up: the first call sizes buffers and threads
  int64_t reps = 0;
  Stopwatch clock;
  while (clock.seconds() < seconds) {
    torch::matmul(a, b);
    ++reps;
  }
  return 2.0 * n * n * n * static_cast<double>(reps) / clock.seconds() / 1e9;
}

}  // namespace

nlohmann::json machine_facts() {
  nlohmann::json j;
  const std::string config = at::show_config();
  const CpuInfo cpu = read_cpuinfo();
  cpu_set_t set;
  const int affinity = sched_getaffinity(0, sizeof(set), &set) == 0 ? CPU_COUNT(&set) : 0;
  j["libtorch"] = {{"version", TORCH_VERSION}, {"cuda_build", config_value(config, "USE_CUDA") == "ON"},
                   {"cuda", config_value(config, "CUDA_VERSION")}, {"cudnn", config_value(config, "CUDNN_VERSION")},
                   {"nccl", config_value(config, "USE_NCCL") == "1" || config_value(config, "USE_NCCL") == "ON"},
                   {"cpu_capability", config_line(config, "CPU capability usage")}};
  j["blas"] = blas_facts(config, cpu);
  j["openmp"] = {{"threads", at::get_num_threads()}};
  j["cpu"] = {{"model", cpu.model}, {"vendor", cpu.vendor},
              {"cores", static_cast<int>(std::thread::hardware_concurrency())}, {"cores_usable", affinity},
              {"mhz", cpu.mhz}, {"isa", isa_flags(cpu)}};
  j["gpus"] = gpu_facts();
  return j;
}

nlohmann::json measure_matmul(const nlohmann::json& facts, double seconds, bool with_bf16) {
  nlohmann::json m;
  const int64_t n = 1024;
  m["n"] = n;
  m["threads"] = at::get_num_threads();
  m["fp32_gflops"] = matmul_gflops(torch::kFloat, seconds, n);
  m["bf16_native"] = has(facts, "avx512_bf16") || has(facts, "amx_bf16");
  // Without AVX512-BF16 or AMX, bf16 products are converted to fp32 and back: measured all the same,
  // since that is what --bf16 would cost here.
  if (with_bf16) m["bf16_gflops"] = matmul_gflops(torch::kBFloat16, seconds, n);
  // fp32 FMA lanes a cycle: two FMA units of 16 (AVX-512) or 8 (AVX2) lanes, 2 FLOPs each. The clock
  // is /proc/cpuinfo's current one, so the peak is a guide, not a bound.
  const double lanes = has(facts, "avx512f") ? 16 : has(facts, "avx2") && has(facts, "fma") ? 8 : 4;
  const double mhz = facts["cpu"]["mhz"].get<double>();
  if (mhz > 0) {
    const double peak = at::get_num_threads() * mhz / 1e3 * lanes * 2 * 2;
    m["fp32_peak_gflops"] = peak;
    m["fp32_peak_derivation"] = std::to_string(at::get_num_threads()) + " threads x " + std::to_string(mhz / 1e3).substr(0, 4) +
                                " GHz x 2 FMA units x " + std::to_string(static_cast<int>(lanes)) + " lanes x 2";
    m["fp32_share_of_peak"] = m["fp32_gflops"].get<double>() / peak;
  }
  return m;
}

std::string machine_summary(const nlohmann::json& f) {
  std::string s = "libtorch " + f["libtorch"]["version"].get<std::string>();
  if (f["libtorch"]["cuda_build"].get<bool>()) s += " (CUDA " + f["libtorch"]["cuda"].get<std::string>() + ")";
  s += ", " + f["blas"]["library"].get<std::string>();
  if (f["blas"].contains("kernel")) s += " " + f["blas"]["kernel"].get<std::string>() + " kernels";
  s += ", " + std::to_string(f["openmp"]["threads"].get<int>()) + " threads of " +
       std::to_string(f["cpu"]["cores"].get<int>()) + " cores";
  const auto& isa = f["cpu"]["isa"];
  for (const char* best : {"amx_bf16", "avx512_bf16", "avx512f", "avx2", "avx"}) {
    if (std::find(isa.begin(), isa.end(), best) != isa.end()) {
      s += ", " + std::string(best);
      break;
    }
  }
  if (!f["cpu"]["model"].get<std::string>().empty()) s += " (" + f["cpu"]["model"].get<std::string>() + ")";
  for (const auto& g : f["gpus"]) s += ", GPU " + g["name"].get<std::string>();
  return s;
}

}  // namespace ft
