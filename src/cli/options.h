// Option groups shared by several subcommands, so each flag is spelled and documented once.
#pragma once
#include <CLI/CLI.hpp>
#include <string>

#include "model/factory.h"

namespace ft::cli {

// --model, --random-init, --adapter
void add_model_options(CLI::App* cmd, model::ModelSpec& spec);
// --method, --lora-r, --lora-alpha, --lora-dropout, --lora-target-modules
void add_method_options(CLI::App* cmd, model::ModelSpec& spec);

struct RuntimeOptions {
  int threads = 0;  // 0 = all cores
  std::string device = "auto";
};
// --threads, --device; apply() sets the thread count and returns the resolved device.
void add_runtime_options(CLI::App* cmd, RuntimeOptions& rt);
std::string apply(const RuntimeOptions& rt);

// 1234567 → "1,234,567"
std::string with_commas(int64_t n);

}  // namespace ft::cli
