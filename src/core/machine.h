// What this process computes on, as `python -m torch.utils.collect_env` and `torch.__config__.show()`
// tell a PyTorch user: libtorch and its build, the BLAS library and the kernel set it chose, threads
// and cores, the CPU's vector instructions, the GPUs. `finetune env` prints it; every timing
// (bench_train, a run's results.json, compare's report) records it beside the figures.
#pragma once
#include <nlohmann/json.hpp>
#include <string>

namespace ft {

nlohmann::json machine_facts();

// Matrix products of 1024 x 1024 for about `seconds` each, fp32 and, with `with_bf16`, bf16 (native
// where the CPU has AVX512-BF16 or AMX), in GFLOP/s, with the CPU's fp32 peak where the clock and
// vector width in `facts` (machine_facts()) tell it.
nlohmann::json measure_matmul(const nlohmann::json& facts, double seconds, bool with_bf16);

// One line of the facts that decide a CPU timing: "libtorch 2.11.0 (CUDA 13.0), MKL, 2 threads of 2 cores, AVX2".
std::string machine_summary(const nlohmann::json& facts);

}  // namespace ft
