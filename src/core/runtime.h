// Process-wide runtime settings: thread count, device choice, and the state of libtorch's default
// random generators (which dropout draws from), for checkpoints that resume exactly.
#pragma once
#include <torch/types.h>

#include <map>
#include <string>

namespace ft {

// Sets libtorch's intra-op thread count; n <= 0 means OMP_NUM_THREADS when set (torchrun and
// --nproc-per-node set it per worker), else all cores (libtorch starts with 1 here).
void set_threads(int n);
int num_threads();

// "auto" | "cpu" | "cuda" → "cpu" or "cuda"; errors if cuda is asked for but absent.
std::string resolve_device(const std::string& requested);

// "cuda:N" makes GPU N the current device (what torch.cuda.set_device does for a torchrun rank): NCCL
// and the "cuda" generator below follow it. Anything else: nothing.
void set_current_device(const std::string& device);

// "cpu" and, when CUDA is available, "cuda" (the current device's): each default generator's state as
// a uint8 tensor.
std::map<std::string, torch::Tensor> generator_states();
// The inverse; `source` names the file in errors (a CUDA state saved without CUDA here is refused).
void restore_generator_states(const std::map<std::string, torch::Tensor>& states, const std::string& source);

}  // namespace ft
