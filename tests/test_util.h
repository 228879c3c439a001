// Shared helpers for tests: where ../shared is, temp dirs, and tensor comparison with a report.
#pragma once
#include <gtest/gtest.h>
#include <torch/torch.h>
#include <unistd.h>

#include <filesystem>
#include <string>

#include "core/files.h"

namespace ft::testing {

inline std::string shared_dir() { return FT_SHARED_DIR; }
inline std::string shared_path(const std::string& rel) { return shared_dir() + "/" + rel; }
inline bool have_shared(const std::string& rel) { return std::filesystem::exists(shared_path(rel)); }

// A fresh directory under /tmp, removed when the object goes out of scope.
struct TempDir {
  std::string path;
  explicit TempDir(const std::string& tag) {
    static int counter = 0;
    path = (std::filesystem::temp_directory_path() /
            ("ft_" + tag + "_" + std::to_string(::getpid()) + "_" + std::to_string(counter++)))
               .string();
    ft::remove_tree(path);
    ft::make_dirs(path);
  }
  ~TempDir() { ft::remove_tree(path); }
  std::string operator/(const std::string& name) const { return path + "/" + name; }
};

// |a - b| <= atol + rtol·|b| elementwise, reporting the worst element on failure.
inline ::testing::AssertionResult all_close(const torch::Tensor& a, const torch::Tensor& b, double atol, double rtol) {
  if (a.sizes() != b.sizes()) return ::testing::AssertionFailure() << "shape " << a.sizes() << " vs " << b.sizes();
  const torch::Tensor x = a.detach().to(torch::kDouble), y = b.detach().to(torch::kDouble);
  const torch::Tensor excess = (x - y).abs() - (atol + rtol * y.abs());
  if (excess.numel() == 0 || excess.max().item<double>() <= 0) return ::testing::AssertionSuccess();
  const int64_t i = excess.flatten().argmax().item<int64_t>();
  return ::testing::AssertionFailure() << "worst element " << i << ": " << x.flatten()[i].item<double>() << " vs "
                                       << y.flatten()[i].item<double>() << " (max abs diff "
                                       << (x - y).abs().max().item<double>() << ")";
}

}  // namespace ft::testing

#define FT_REQUIRE_SHARED(rel)                                                                      \
  do {                                                                                              \
    if (!ft::testing::have_shared(rel)) GTEST_SKIP() << "needs ../shared/" << rel << " (absent here)"; \
  } while (0)
