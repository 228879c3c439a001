#include "model/attention.h"

#include <ATen/autocast_mode.h>
#include <torch/version.h>

#include "core/error.h"

#if defined(FT_WITH_CUDA) && __has_include(<ATen/ops/_flash_attention_forward.h>)
#include <ATen/ops/_flash_attention_forward.h>
#define FT_HAS_VARLEN_ATTENTION 1
#else
#define FT_HAS_VARLEN_ATTENTION 0
#endif

namespace ft::model {
namespace {

// The dtype the attention's inputs will have: autocast's on CUDA when it is on, else x's own.
at::ScalarType compute_dtype(const torch::Tensor& x) {
#if TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 4)
  if (at::autocast::is_autocast_enabled(at::kCUDA)) return at::autocast::get_autocast_dtype(at::kCUDA);
#else
  if (at::autocast::is_enabled()) return at::autocast::get_autocast_gpu_dtype();
#endif
  return x.scalar_type();
}

}  // namespace

bool varlen_attention_usable(const torch::Tensor& x, int64_t head_dim) {
  if (!FT_HAS_VARLEN_ATTENTION || !x.is_cuda()) return false;
  const at::ScalarType t = compute_dtype(x);
  return (t == at::kHalf || t == at::kBFloat16) && head_dim % 8 == 0 && head_dim <= 256;
}

torch::Tensor varlen_attention(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v,
                               const torch::Tensor& cu_q, const torch::Tensor& cu_k, int64_t max_q, int64_t max_k,
                               double dropout_p) {
#if FT_HAS_VARLEN_ATTENTION
  // Only the leading arguments, whose meaning has not changed since 2.0; later keyword arguments
  // (scale, windows, ...) keep their defaults: scale 1/sqrt(head_dim), as BERT's.
  return std::get<0>(at::_flash_attention_forward(q, k, v, cu_q, cu_k, max_q, max_k, dropout_p,
                                                  /*is_causal=*/false, /*return_debug_mask=*/false));
#else
  (void)q, (void)k, (void)v, (void)cu_q, (void)cu_k, (void)max_q, (void)max_k, (void)dropout_p;
  throw Error("variable-length attention needs a CUDA build of libtorch with flash attention");
#endif
}

}  // namespace ft::model
