// finetune env and the BLAS kernel check: hand-made CPUs for the choice, the real binary for the restart.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <sys/wait.h>

#include <cstdio>
#include <optional>
#include <sstream>
#include <string>

#include "core/blas_kernel.h"
#include "core/files.h"
#include "test_util.h"

namespace {

const std::vector<std::string> kAvx512 = {"sse4_2", "avx", "fma", "avx2", "avx512f", "avx512bw", "avx512vl", "avx512dq"};
const std::vector<std::string> kAvx2 = {"sse4_2", "avx", "fma", "avx2"};

std::optional<std::string> better_openblas_kernel(const std::string& chosen, const std::vector<std::string>& flags,
                                                  const std::string& vendor) {
  ft::CpuInfo cpu;
  cpu.flags = flags;
  cpu.vendor = vendor;
  return ft::better_openblas_kernel(chosen, cpu);
}

TEST(BlasKernel, OlderKernelsThanTheCpuRunsAreReplacedByTheBestItRuns) {
  EXPECT_EQ(better_openblas_kernel("Prescott", kAvx512, "GenuineIntel"), "SkylakeX");  // the Xeon that OpenBLAS 0.3.21 misses
  EXPECT_EQ(better_openblas_kernel("Haswell", kAvx512, "GenuineIntel"), "SkylakeX");
  EXPECT_EQ(better_openblas_kernel("Prescott", kAvx2, "GenuineIntel"), "Haswell");
  EXPECT_EQ(better_openblas_kernel("Nehalem", kAvx2, "AuthenticAMD"), "Zen");
  EXPECT_EQ(better_openblas_kernel("Prescott", {"sse4_2", "avx"}, "GenuineIntel"), "Sandybridge");
}

TEST(BlasKernel, KernelsAsGoodAsTheCpuRunsAreKept) {
  EXPECT_EQ(better_openblas_kernel("SkylakeX", kAvx512, "GenuineIntel"), std::nullopt);
  EXPECT_EQ(better_openblas_kernel("Cooperlake", kAvx512, "GenuineIntel"), std::nullopt);
  EXPECT_EQ(better_openblas_kernel("Zen", kAvx2, "AuthenticAMD"), std::nullopt);
  EXPECT_EQ(better_openblas_kernel("Haswell", kAvx2, "AuthenticAMD"), std::nullopt);  // same generation
  EXPECT_EQ(better_openblas_kernel("Prescott", {"sse4_2"}, "GenuineIntel"), std::nullopt);  // nothing better to run
}

TEST(BlasKernel, AnUnknownFtBlasKernelValueIsAOneLineError) {
  ft::testing::TempDir tmp("machine_policy");
  const int rc = std::system(("FT_BLAS_KERNEL=fastest " + std::string(FT_BINARY) + " env --json --seconds 0.1 > " +
                              tmp / "out" + " 2> " + tmp / "err").c_str());
  ASSERT_TRUE(WIFEXITED(rc));
  EXPECT_EQ(WEXITSTATUS(rc), 2);
  EXPECT_EQ(ft::read_file(tmp / "err"), "error: FT_BLAS_KERNEL=fastest: expected auto or keep\n");
  EXPECT_EQ(ft::read_file(tmp / "out"), "");
}

// Runs the binary with an environment prefix; its stdout.
std::string run(const std::string& env, const std::string& args) {
  ft::testing::TempDir tmp("machine_run");
  const std::string out = tmp / "out";
  const int rc = std::system((env + " " + FT_BINARY + " " + args + " > " + out + " 2> " + tmp / "err").c_str());
  EXPECT_EQ(rc, 0) << args << ": " << ft::read_file(tmp / "err");
  return ft::read_file(out);
}

std::vector<std::string> lines(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string l; std::getline(in, l);)
    if (!l.empty()) out.push_back(l);
  return out;
}

nlohmann::json env_json(const std::string& env) { return nlohmann::json::parse(run(env, "env --json --seconds 0.1 --threads 1")); }

TEST(FinetuneEnv, NamesTheLibtorchTheBlasKernelAndTheMatmulRate) {
  const nlohmann::json j = env_json("");
  EXPECT_FALSE(j["libtorch"]["version"].get<std::string>().empty());
  EXPECT_FALSE(j["blas"]["library"].get<std::string>().empty());
  EXPECT_NE(j["blas"]["library"], "unknown");
  EXPECT_GT(j["matmul"]["fp32_gflops"].get<double>(), 0.1);
  EXPECT_EQ(j["openmp"]["threads"], 1);
  EXPECT_GE(j["cpu"]["cores"].get<int>(), 1);
  if (j["blas"]["library"] == "openblas") {
    EXPECT_FALSE(j["blas"]["kernel"].get<std::string>().empty());
  }
}

// A fallback forced (OPENBLAS_CORETYPE=Prescott, FT_BLAS_KERNEL=auto): the tool restarts itself on the
// kernels the CPU runs, and predicts the same as with the fallback kernels.
TEST(FinetuneEnv, AForcedFallbackKernelIsCorrectedAndPredictsTheSame) {
  const nlohmann::json plain = env_json("");
  const std::string forced = "OPENBLAS_CORETYPE=Prescott";
  const nlohmann::json kept = env_json(forced), corrected = env_json(forced + " FT_BLAS_KERNEL=auto");
  if (plain["blas"]["library"] == "openblas") {
    EXPECT_EQ(kept["blas"]["kernel"], "Prescott");  // a user's choice stands by default
    EXPECT_EQ(env_json(forced + " FT_BLAS_KERNEL=keep")["blas"]["kernel"], "Prescott");
    const std::string best = kept["blas"]["better_kernel"];
    ASSERT_FALSE(best.empty()) << "this CPU runs nothing better than SSE3: the restart cannot be seen here";
    EXPECT_EQ(corrected["blas"]["kernel"], best);
    EXPECT_EQ(corrected["blas"]["corrected_from"], "Prescott");
    EXPECT_EQ(corrected["blas"]["better_kernel"], "");
  } else {  // MKL (pip's libtorch) picks its own kernels: nothing to correct, and OpenBLAS's variables change nothing
    EXPECT_FALSE(corrected["blas"].contains("corrected_from"));
    EXPECT_EQ(corrected["blas"]["library"], plain["blas"]["library"]);
  }
  ft::testing::TempDir tmp("machine_predict");
  const std::string texts = tmp / "texts.txt";
  ft::write_file_atomic(texts, std::string("영화 정말 재밌어요\n최악의 영화, 시간 낭비\n배우들 연기가 좋았다 ㅎㅎ\n"));
  const std::string model = ft::testing::source_dir() + "/models/ko-roberta-small";
  const std::string args = "predict --model " + model + " --input " + texts + " --json --threads 1";
  const auto a = lines(run(forced, args)), b = lines(run(forced + " FT_BLAS_KERNEL=auto", args));
  ASSERT_EQ(a.size(), 3u);
  ASSERT_EQ(b.size(), 3u);
  for (size_t i = 0; i < a.size(); ++i) {
    const auto pa = nlohmann::json::parse(a[i])["probabilities"], pb = nlohmann::json::parse(b[i])["probabilities"];
    for (size_t k = 0; k < pa.size(); ++k) EXPECT_NEAR(pa[k].get<double>(), pb[k].get<double>(), 1e-5) << i;
  }
}

}  // namespace
