// Variable-length attention on packed tokens with PyTorch's flash kernel (CUDA, fp16/bf16): no
// padding, no mask, one launch per layer. It is a private ATen op whose signature grows between
// releases, so it is called in this one place, compiled only against a CUDA libtorch that has it.
#pragma once
#include <torch/types.h>

namespace ft::model {

// Whether varlen_attention can run on activations like x under the current autocast state: a CUDA
// build with the kernel, x on CUDA, computing in fp16/bf16, a head size the kernel supports.
bool varlen_attention_usable(const torch::Tensor& x, int64_t head_dim);

// q [Tq,heads,head_dim], k, v [Tk,heads,head_dim]; cu_q, cu_k [B+1] int32 row boundaries of the
// packed queries and keys; max_q, max_k the longest rows → context [Tq,heads,head_dim].
// Differentiable (PyTorch registers its backward). dropout_p applies to the attention probabilities.
torch::Tensor varlen_attention(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v,
                               const torch::Tensor& cu_q, const torch::Tensor& cu_k, int64_t max_q, int64_t max_k,
                               double dropout_p);

}  // namespace ft::model
