// Option groups shared by several subcommands, so each flag is spelled and documented once.
#pragma once
#include <CLI/CLI.hpp>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "model/spec.h"

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

}  // namespace ft::cli

namespace ft::cli {

// Options that map onto JSON config keys (HF's names): --learning-rate sets "learning_rate".
// Values given on the command line land in `overrides`, which win over a --config file.
enum class Kind { Text, Integer, Number, Flag, List };
// `alias` is an extra flag name, e.g. "--model" for model_name_or_path.
void add_json_option(CLI::App* cmd, const std::string& key, Kind kind, const std::string& help,
                     std::shared_ptr<nlohmann::json> overrides, const std::string& alias = "");

// The data, model and runtime options of train (training=true) or eval.
void add_run_options(CLI::App* cmd, std::shared_ptr<nlohmann::json> overrides, bool training);

// --nproc-per-node N (torchrun's): the value, read in the subcommand's callback.
std::shared_ptr<int> add_nproc_option(CLI::App* cmd);
// With N > 1 outside a launched rank, runs N ranks of this command line (distributed/launch.h) and
// returns true: the callback has nothing left to do. Otherwise false (this process is the run).
bool launch_here(int nproc);

// --config FILE (if given) merged with the command-line overrides.
nlohmann::json merged_config(const std::string& config_path, const nlohmann::json& overrides);

}  // namespace ft::cli
