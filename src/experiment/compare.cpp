#include "experiment/compare.h"

#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <filesystem>
#include <sstream>

#include "core/error.h"
#include "core/files.h"
#include "core/log.h"
#include "report/comparison.h"
#include "train/trainer.h"

extern char** environ;

namespace ft::experiment {
namespace {

std::atomic<bool> g_interrupted{false};
std::atomic<pid_t> g_child{0};
// A terminal's Ctrl-C reaches the child by itself; a signal sent to this process alone is passed on.
void on_interrupt(int sig) {
  g_interrupted = true;
  if (const pid_t child = g_child.load(); child > 0) kill(child, sig);
}

// Temp files of atomic writes that a killed run may have left (name.tmp.<pid>), at any depth:
// robustness runs write into subfolders.
void remove_stale_temp_files(const std::string& dir) {
  for (const std::string& path : files_below(dir))
    if (std::filesystem::path(path).filename().string().find(".tmp.") != std::string::npos) std::remove(path.c_str());
}

// Runs the child and returns its exit status; 128+signal when it was killed by one.
int run_child(const std::string& binary, const std::vector<std::string>& args) {
  std::vector<char*> argv;
  argv.push_back(const_cast<char*>(binary.c_str()));
  for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  pid_t pid = 0;
  if (posix_spawn(&pid, binary.c_str(), nullptr, nullptr, argv.data(), environ) != 0)
    throw Error(binary + ": cannot start the training process");
  g_child = pid;
  int status = 0;
  while (waitpid(pid, &status, 0) < 0)
    if (errno != EINTR) throw Error("waitpid failed");
  g_child = 0;
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

// `finetune robustness` settings for a finished arm: its own run configuration (data, subset, length,
// batch size, device), evaluating the checkpoint it saved: an adapter on the base model, or the model.
nlohmann::json robustness_config(const ArmRun& r, const RobustnessSettings& settings, const std::string& out) {
  nlohmann::json j = read_json(join_path(r.dir, "run_config.json"));
  if (!j.is_object() || j.value("eval_file", "").empty())
    throw Error(join_path(r.dir, "run_config.json") + ": robustness needs the arm's eval_file");
  if (file_exists(join_path(r.dir, "adapter_config.json"))) {
    j["adapter"] = r.dir;
  } else {
    j["model_name_or_path"] = r.dir;
    j["random_init"] = false;  // the saved weights, however they started
    j.erase("adapter");
  }
  j["output_dir"] = out;
  j["perturbations"] = settings.to_json()["perturbations"];
  j["perturbation_seed"] = settings.seed;
  return j;
}

}  // namespace

CompareSpec CompareSpec::study_defaults() {
  CompareSpec s;
  s.output_dir = "runs/compare";
  s.common = {{"num_train_epochs", 3},        {"per_device_train_batch_size", 32}, {"per_device_eval_batch_size", 64},
              {"max_length", 128},            {"eval_strategy", "epoch"},          {"logging_steps", 50},
              {"weight_decay", 0.0},          {"warmup_ratio", 0.0},               {"lr_scheduler_type", "linear"}};
  s.arms = nlohmann::json::array({
      {{"arm", "full"}, {"method", "full"}, {"learning_rate", 2e-5}},
      {{"arm", "lora"}, {"method", "lora"}, {"learning_rate", 2e-4}, {"lora_r", 8}, {"lora_alpha", 32},
       {"lora_dropout", 0.1}, {"lora_target_modules", {"query", "value"}}},
  });
  return s;
}

void CompareSpec::update_from_json(const nlohmann::json& j, const std::string& source) {
  if (!j.is_object()) throw Error(source + ": expected a JSON object");
  try {
    for (auto it = j.begin(); it != j.end(); ++it) {
      const std::string& k = it.key();
      if (k == "output_dir") output_dir = it.value().get<std::string>();
      else if (k == "seeds") seeds = it.value().get<std::vector<int64_t>>();
      else if (k == "baseline") baseline = it.value().get<std::string>();
      else if (k == "common") common.update(it.value());
      else if (k == "arms") arms = it.value();
      else if (k == "equivalence_margin") equivalence_margin = it.value().get<double>();
      else if (k == "robustness") robustness = RobustnessSettings::from_json(it.value(), source);
      else if (k == "description" || k == "notes") continue;  // free text for the reader of the config
      else throw Error(source + ": unknown key '" + k + "' (expected output_dir, seeds, baseline, equivalence_margin, common, arms, robustness)");
    }
  } catch (const nlohmann::json::exception& e) {
    throw Error(source + ": malformed comparison config (" + e.what() + ")");
  }
  if (!arms.is_array() || arms.empty()) throw Error(source + ": 'arms' must be a non-empty list");
  for (const auto& a : arms)
    if (!a.is_object() || !a.contains("arm") || !a["arm"].is_string())
      throw Error(source + ": every arm needs a name (\"arm\": \"...\")");
  if (seeds.empty()) throw Error(source + ": 'seeds' must not be empty");
  if (!(equivalence_margin > 0)) throw Error(source + ": 'equivalence_margin' must be a positive number of points");
}

std::vector<ArmRun> CompareSpec::expand() const {
  std::vector<ArmRun> runs;
  for (const int64_t seed : seeds) {
    for (const auto& arm : arms) {
      nlohmann::json config = common;
      config.update(arm);
      const std::string name = arm["arm"].get<std::string>();
      // "learning_rate": [a, b, ...] sweeps: one run per rate in <arm>/lr-<rate>; the report keeps the
      // rate the validation set prefers.
      std::vector<nlohmann::json> rates = {config.value("learning_rate", nlohmann::json())};
      const bool sweep = rates.front().is_array();
      if (sweep) {
        rates = rates.front().get<std::vector<nlohmann::json>>();
        if (rates.empty() || !std::all_of(rates.begin(), rates.end(), [](const nlohmann::json& v) { return v.is_number(); }))
          throw Error("compare: arm '" + name + "': learning_rate must be a number or a non-empty list of numbers");
        const auto has = [&](const char* key) {
          return config.contains(key) && !config[key].is_null() && config[key] != 0 && config[key] != "";
        };
        if (!has("validation_split") && !has("validation_file"))
          throw Error("compare: arm '" + name + "' sweeps learning_rate but has no validation set; choosing a learning rate on "
                      "the test set would bias the comparison (set validation_split or validation_file, in common or the arm)");
      }
      for (const nlohmann::json& rate : rates) {
        ArmRun r;
        r.arm = name;
        r.seed = seed;
        std::ostringstream rate_name;
        if (sweep) rate_name << "lr-" << rate.get<double>();
        const std::string base = sweep ? join_path(r.arm, rate_name.str()) : r.arm;
        r.dir = join_path(output_dir, seeds.size() == 1 ? base : join_path(base, "seed-" + std::to_string(seed)));
        r.config = config;
        if (sweep) r.config["learning_rate"] = rate;
        r.config["seed"] = seed;
        r.config["output_dir"] = r.dir;
        runs.push_back(std::move(r));
      }
    }
  }
  return runs;
}

nlohmann::json run_compare(const CompareSpec& spec, const std::string& finetune_binary) {
  const std::vector<ArmRun> runs = spec.expand();
  make_dirs(spec.output_dir);
  nlohmann::json recorded = {{"output_dir", spec.output_dir}, {"seeds", spec.seeds}, {"baseline", spec.baseline},
                             {"equivalence_margin", spec.equivalence_margin}, {"common", spec.common}, {"arms", spec.arms}};
  if (spec.robustness) recorded["robustness"] = spec.robustness->to_json();
  write_json_atomic(join_path(spec.output_dir, "compare_config.json"), recorded);

  struct sigaction sa {}, old_int {}, old_term {};
  sa.sa_handler = on_interrupt;
  sigaction(SIGINT, &sa, &old_int);
  sigaction(SIGTERM, &sa, &old_term);
  g_interrupted = false;
  auto restore = [&] {
    sigaction(SIGINT, &old_int, nullptr);
    sigaction(SIGTERM, &old_term, nullptr);
  };

  auto label_of = [&](size_t i) {
    const nlohmann::json& lr = runs[i].config["learning_rate"];
    const bool swept = std::count_if(runs.begin(), runs.end(), [&](const ArmRun& o) {
                         return o.arm == runs[i].arm && o.seed == runs[i].seed;
                       }) > 1;
    return "[" + std::to_string(i + 1) + "/" + std::to_string(runs.size()) + "] " + runs[i].arm +
           (swept ? " lr " + lr.dump() : "") +
           (spec.seeds.size() > 1 ? " seed " + std::to_string(runs[i].seed) : "");
  };
  std::vector<report::RunInfo> infos;
  std::vector<bool> trained_now(runs.size(), false);
  for (size_t i = 0; i < runs.size(); ++i) {
    const ArmRun& r = runs[i];
    const std::string results = join_path(r.dir, "results.json");
    const std::string label = label_of(i);
    if (file_exists(results) && !spec.overwrite) {
      info(label + ": finished earlier, kept (" + results + "; --overwrite re-runs it)");
    } else {
      make_dirs(r.dir);
      remove_stale_temp_files(r.dir);
      // Checkpoints every epoch (unless the arm says otherwise), so an interrupted arm continues from
      // its newest one instead of from step 0; --overwrite starts it clean.
      if (spec.overwrite)
        for (const std::string& path : list_dir(r.dir))
          if (path.find("/checkpoint-") != std::string::npos) remove_tree(path);
      nlohmann::json config = r.config;
      if (config.value("save_strategy", std::string("no")) == "no") config["save_strategy"] = "epoch";
      if (!config.contains("save_total_limit")) config["save_total_limit"] = 1;
      const std::string cfg = join_path(r.dir, "arm_config.json");
      write_json_atomic(cfg, config);
      std::vector<std::string> args = {"train", "--config", cfg};
      if (const std::string ckpt = train::latest_checkpoint(r.dir); !ckpt.empty()) {
        info(label + ": resuming from " + ckpt + " → " + r.dir);
        args.push_back("--resume");
      } else {
        info(label + ": training → " + r.dir);
      }
      trained_now[i] = true;
      const int rc = run_child(finetune_binary, args);
      if (g_interrupted || rc == 128 + SIGINT || rc == 128 + SIGTERM) {
        restore();
        remove_stale_temp_files(r.dir);
        throw Error("interrupted during " + r.arm + "; finished arms are kept — run the same command again to continue");
      }
      if (rc != 0) {
        restore();
        throw Error(r.arm + " (seed " + std::to_string(r.seed) + ") failed with exit status " + std::to_string(rc) +
                    "; see its messages above");
      }
    }
    infos.push_back({r.arm, r.seed, r.dir});
  }
  for (size_t i = 0; spec.robustness && i < runs.size(); ++i) {
    const ArmRun& r = runs[i];
    const std::string out = join_path(r.dir, "robustness");
    if (!trained_now[i] && !spec.overwrite && robustness_up_to_date(out, *spec.robustness)) {
      info(label_of(i) + ": robustness finished earlier, kept (" + out + ")");
      continue;
    }
    const std::string cfg = join_path(r.dir, "robustness_config.json");
    write_json_atomic(cfg, robustness_config(r, *spec.robustness, out));
    info(label_of(i) + ": robustness → " + out);
    const int rc = run_child(finetune_binary, {"robustness", "--config", cfg});
    if (g_interrupted || rc == 128 + SIGINT || rc == 128 + SIGTERM) {
      restore();
      remove_stale_temp_files(out);
      throw Error("interrupted during the robustness run of " + r.arm + "; run the same command again to continue");
    }
    if (rc != 0) {
      restore();
      throw Error("robustness of " + r.arm + " (seed " + std::to_string(r.seed) + ") failed with exit status " +
                  std::to_string(rc) + "; see its messages above");
    }
  }
  restore();
  report::ComparisonOptions options;
  options.baseline_arm = spec.baseline;
  options.equivalence_margin = spec.equivalence_margin / 100;
  return report::write_comparison_outputs(spec.output_dir, infos, options);
}

}  // namespace ft::experiment
