#include "cli/options.h"

#include "core/error.h"
#include "core/files.h"
#include "core/runtime.h"
#include "distributed/group.h"
#include "distributed/launch.h"

namespace ft::cli {

void add_model_options(CLI::App* cmd, model::ModelSpec& spec) {
  cmd->add_option("--model", spec.dir, "Model directory (config.json + model.safetensors or pytorch_model.bin)")
      ->required();
  cmd->add_flag("--random-init", spec.random_init, "Use config.json only; draw weights as HF's initialisation does");
  cmd->add_option("--adapter", spec.adapter_dir, "A PEFT LoRA adapter directory to apply on top of the model");
}

void add_method_options(CLI::App* cmd, model::ModelSpec& spec) {
  cmd->add_option("--method", spec.method, "full | lora | head (linear probe)")
      ->check(CLI::IsMember({"full", "lora", "head"}))
      ->capture_default_str();
  cmd->add_option("--lora-r", spec.lora.r, "LoRA rank")->check(CLI::PositiveNumber)->capture_default_str();
  cmd->add_option("--lora-alpha", spec.lora.alpha, "LoRA alpha (scaling = alpha / r)")->capture_default_str();
  cmd->add_option("--lora-dropout", spec.lora.dropout, "Dropout on the LoRA input")
      ->check(CLI::Range(0.0, 1.0))
      ->capture_default_str();
  cmd->add_option("--lora-target-modules", spec.lora.target_modules,
                  "Comma-separated: query,key,value,attention.output.dense,intermediate.dense,output.dense")
      ->delimiter(',')
      ->capture_default_str();
}

void add_runtime_options(CLI::App* cmd, RuntimeOptions& rt) {
  cmd->add_option("--threads", rt.threads, "CPU threads (default: all cores)");
  cmd->add_option("--device", rt.device, "auto | cpu | cuda")->capture_default_str();
}

std::string apply(const RuntimeOptions& rt) {
  set_threads(rt.threads);
  return resolve_device(rt.device);
}


}  // namespace ft::cli

namespace ft::cli {

void add_json_option(CLI::App* cmd, const std::string& key, Kind kind, const std::string& help,
                     std::shared_ptr<nlohmann::json> overrides, const std::string& alias) {
  std::string flag = "--" + key;
  std::replace(flag.begin(), flag.end(), '_', '-');
  if (!alias.empty()) flag = alias + "," + flag;
  switch (kind) {
    case Kind::Text:
      cmd->add_option_function<std::string>(flag, [=](const std::string& v) { (*overrides)[key] = v; }, help);
      break;
    case Kind::Integer:
      cmd->add_option_function<int64_t>(flag, [=](const int64_t& v) { (*overrides)[key] = v; }, help);
      break;
    case Kind::Number:
      cmd->add_option_function<double>(flag, [=](const double& v) { (*overrides)[key] = v; }, help);
      break;
    case Kind::Flag:
      cmd->add_flag_function(flag, [=](int64_t) { (*overrides)[key] = true; }, help);
      break;
    case Kind::List:
      cmd->add_option_function<std::vector<std::string>>(
             flag, [=](const std::vector<std::string>& v) { (*overrides)[key] = v; }, help)
          ->delimiter(',');
      break;
  }
}

std::shared_ptr<int> add_nproc_option(CLI::App* cmd) {
  auto nproc = std::make_shared<int>(1);
  cmd->add_option("--nproc-per-node", *nproc, "Data parallel: run N ranks on this machine, as torchrun does (one per GPU, "
                  "or N CPU processes sharing the cores)")
      ->check(CLI::PositiveNumber);
  return nproc;
}

bool launch_here(int nproc) {
  // A launched rank (RANK/WORLD_SIZE set, by this launcher, torchrun or srun) is the run itself.
  if (nproc <= 1 || distributed::launch_env().launched()) return false;
  distributed::launch_local_workers(nproc);
  return true;
}

nlohmann::json merged_config(const std::string& config_path, const nlohmann::json& overrides) {
  nlohmann::json j = config_path.empty() ? nlohmann::json::object() : read_json(config_path);
  if (!j.is_object()) throw Error(config_path + ": expected a JSON object of training arguments");
  for (auto it = overrides.begin(); it != overrides.end(); ++it) j[it.key()] = it.value();
  return j;
}

}  // namespace ft::cli
