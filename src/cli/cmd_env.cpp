// finetune env: what this build computes on (libtorch, BLAS kernel, threads, CPU, GPUs) and a short
// matmul measurement — what a bug report or a timing needs beside it.
#include <cstdio>
#include <iostream>

#include "cli/commands.h"
#include "core/machine.h"
#include "core/runtime.h"

namespace ft::cli {
namespace {

struct EnvArgs {
  int threads = 0;
  double seconds = 2.0;
  bool json = false;
};

std::string yes_no(bool b) { return b ? "yes" : "no"; }

void print_text(const nlohmann::json& f, const nlohmann::json& m) {
  const auto& t = f["libtorch"];
  std::printf("libtorch        %s, %s build", t["version"].get<std::string>().c_str(),
              t["cuda_build"].get<bool>() ? "CUDA" : "CPU-only");
  if (t["cuda_build"].get<bool>())
    std::printf(" (CUDA %s, cuDNN %s, NCCL %s)", t["cuda"].get<std::string>().c_str(),
                t["cudnn"].get<std::string>().c_str(), yes_no(t["nccl"].get<bool>()).c_str());
  std::printf("\nATen kernels    %s\n", t["cpu_capability"].get<std::string>().c_str());
  const auto& b = f["blas"];
  std::printf("BLAS            %s", b["library"].get<std::string>().c_str());
  if (b.contains("version")) std::printf(" %s", b["version"].get<std::string>().c_str());
  if (b.contains("kernel")) std::printf(", %s kernels", b["kernel"].get<std::string>().c_str());
  if (!b.value("corrected_from", std::string()).empty())
    std::printf(" (finetune's choice: OpenBLAS chose %s, older than this CPU runs)", b["corrected_from"].get<std::string>().c_str());
  else if (!b.value("kernel_forced_by", std::string()).empty())
    std::printf(" (set by %s)", b["kernel_forced_by"].get<std::string>().c_str());
  if (!b.value("better_kernel", std::string()).empty())
    std::printf("; this CPU runs %s kernels: FT_BLAS_KERNEL=auto uses them", b["better_kernel"].get<std::string>().c_str());
  const auto& c = f["cpu"];
  std::printf("\nthreads         %d (cores %d, usable %d)\n", f["openmp"]["threads"].get<int>(), c["cores"].get<int>(),
              c["cores_usable"].get<int>());
  std::printf("CPU             %s\n", c["model"].get<std::string>().c_str());
  std::string isa;
  for (const auto& x : c["isa"]) isa += (isa.empty() ? "" : " ") + x.get<std::string>();
  std::printf("CPU ISA         %s\n", isa.c_str());
  if (f["gpus"].empty()) std::printf("GPUs            none seen\n");
  for (const auto& g : f["gpus"])
    std::printf("GPU %-11d %s, %.1f GiB, compute %s, %d SMs\n", g["index"].get<int>(), g["name"].get<std::string>().c_str(),
                g["memory_bytes"].get<double>() / (1 << 30), g["compute_capability"].get<std::string>().c_str(),
                g["multiprocessors"].get<int>());
  std::printf("matmul fp32     %.1f GFLOP/s (%lld^3, %d threads)", m["fp32_gflops"].get<double>(),
              static_cast<long long>(m["n"].get<int64_t>()), m["threads"].get<int>());
  if (m.contains("fp32_peak_gflops"))
    std::printf(", %.0f%% of a %.0f GFLOP/s peak (%s)", 100 * m["fp32_share_of_peak"].get<double>(),
                m["fp32_peak_gflops"].get<double>(), m["fp32_peak_derivation"].get<std::string>().c_str());
  std::printf("\nmatmul bf16     %.1f GFLOP/s (%s)\n", m["bf16_gflops"].get<double>(),
              m["bf16_native"].get<bool>() ? "AVX512-BF16/AMX instructions" : "no bf16 instructions on this CPU: converted to fp32");
}

}  // namespace

void add_env_command(CLI::App& app) {
  auto a = std::make_shared<EnvArgs>();
  CLI::App* cmd = app.add_subcommand("env", "What this build computes on: libtorch, BLAS kernel, threads, CPU, GPUs, matmul rate");
  cmd->add_option("--threads", a->threads, "CPU threads (default: OMP_NUM_THREADS, else all cores)");
  cmd->add_option("--seconds", a->seconds, "How long each matmul measurement runs")->check(CLI::Range(0.1, 60.0));
  cmd->add_flag("--json", a->json, "One JSON object");
  cmd->callback([a] {
    set_threads(a->threads);
    const nlohmann::json facts = machine_facts();
    const nlohmann::json matmul = measure_matmul(facts, a->seconds, /*with_bf16=*/true);
    if (a->json) {
      nlohmann::json j = facts;
      j["matmul"] = matmul;
      std::cout << j.dump() << "\n";
    } else {
      print_text(facts, matmul);
    }
  });
}

}  // namespace ft::cli
