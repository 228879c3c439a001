#include "experiment/compare.h"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <functional>
#include <optional>
#include <sstream>
#include <thread>

#include "core/error.h"
#include "core/files.h"
#include "core/log.h"
#include "core/run_folder.h"
#include "core/shell.h"
#include "report/comparison.h"
#include "train/trainer.h"

extern char** environ;

namespace ft::experiment {
namespace {

std::atomic<bool> g_interrupted{false};
// The running children: a signal reaches every one (a terminal's Ctrl-C reaches them by itself too).
constexpr size_t kMaxSlots = 64;
std::array<std::atomic<pid_t>, kMaxSlots> g_children{};
void on_interrupt(int sig) {
  g_interrupted = true;
  for (auto& child : g_children)
    if (const pid_t pid = child.load(); pid > 0) kill(pid, sig);
}

// Temp files of atomic writes that a killed run may have left (name.tmp.<pid>), at any depth:
// robustness runs write into subfolders.
void remove_stale_temp_files(const std::string& dir) {
  for (const std::string& path : files_below(dir))
    if (std::filesystem::path(path).filename().string().find(".tmp.") != std::string::npos) std::remove(path.c_str());
}

// One child process of a compare: a training or a robustness run.
struct Job {
  std::string label, dir;      // for messages; the run folder (cleaned of temp files after an interrupt)
  std::string log;             // its output goes here when several run at once ("" = the terminal)
  size_t run = 0;              // index into the expanded runs
  std::vector<std::string> args;  // filled in by run_jobs' prepare, just before the job starts
};

pid_t spawn(const std::string& binary, const Job& job) {
  std::vector<char*> argv;
  argv.push_back(const_cast<char*>(binary.c_str()));
  for (const auto& a : job.args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  if (!job.log.empty()) {
    posix_spawn_file_actions_addopen(&actions, 1, job.log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    posix_spawn_file_actions_adddup2(&actions, 1, 2);
  }
  pid_t pid = 0;
  const int rc = posix_spawn(&pid, binary.c_str(), &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  if (rc != 0) throw Error(binary + ": cannot start " + job.label + " (" + std::strerror(rc) + ")");
  return pid;
}

// Runs the jobs, at most one per slot at a time; `prepare(job, slot)` is called just before a job
// starts (so it can write the slot's device into the job's config). Returns when all succeeded;
// on a failure or an interrupt the others are stopped (their checkpoints stay, so a re-run resumes
// them) and an ft::Error says which job and how.
void run_jobs(const std::string& binary, std::vector<Job> jobs, size_t slots,
              const std::function<void(Job&, size_t slot)>& prepare, const std::string& what) {
  slots = std::min(slots, kMaxSlots);
  std::vector<std::optional<size_t>> running(slots);  // job index per slot
  std::vector<pid_t> pids(slots, 0);
  size_t next = 0, active = 0;
  std::string failure;
  auto stop_all = [&] {
    for (size_t k = 0; k < slots; ++k)
      if (pids[k] > 0) kill(pids[k], SIGTERM);
  };
  while (next < jobs.size() || active > 0) {
    while (failure.empty() && !g_interrupted && next < jobs.size() && active < slots) {
      const size_t slot = static_cast<size_t>(std::find(running.begin(), running.end(), std::nullopt) - running.begin());
      Job& job = jobs[next];
      prepare(job, slot);
      pids[slot] = spawn(binary, job);
      g_children[slot] = pids[slot];
      running[slot] = next++;
      ++active;
    }
    if (active == 0) break;
    int status = 0;
    const pid_t pid = waitpid(-1, &status, 0);
    if (pid < 0) {
      if (errno == EINTR) continue;
      throw Error(std::string("waitpid failed: ") + std::strerror(errno));
    }
    const size_t slot = static_cast<size_t>(std::find(pids.begin(), pids.end(), pid) - pids.begin());
    if (slot == slots) continue;  // not one of ours
    const Job& job = jobs[*running[slot]];
    g_children[slot] = 0;
    pids[slot] = 0;
    running[slot].reset();
    --active;
    const int rc = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    if (g_interrupted || rc == 128 + SIGINT || rc == 128 + SIGTERM) {
      g_interrupted = true;
      stop_all();
      remove_stale_temp_files(job.dir);
      if (failure.empty())
        failure = "interrupted during " + what + " of " + job.label + "; finished runs are kept — run the same command again to continue";
    } else if (rc != 0) {
      if (failure.empty()) {
        failure = what + " of " + job.label + " failed with exit status " + std::to_string(rc) +
                  (job.log.empty() ? "; see its messages above" : "; see " + job.log);
        stop_all();
      }
    } else if (!job.log.empty()) {
      info(job.label + ": " + what + " finished (" + job.log + ")");
    }
  }
  if (!failure.empty()) throw Error(failure);
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

nlohmann::json CompareSpec::to_json() const {
  nlohmann::json j = {{"output_dir", output_dir}, {"seeds", seeds}, {"baseline", baseline},
                      {"equivalence_margin", equivalence_margin}, {"common", common}, {"arms", arms}};
  if (robustness) j["robustness"] = robustness->to_json();
  return j;
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
  for (const auto& a : arms) {
    if (!a.is_object() || !a.contains("arm") || !a["arm"].is_string())
      throw Error(source + ": every arm needs a name (\"arm\": \"...\")");
    // The name is a folder of output_dir: one plain component, never a path out of it.
    if (!plain_name(a["arm"].get<std::string>()))
      throw Error(source + ": arm name " + a["arm"].dump() + " must be a plain folder name (no '/', not '.' or '..')");
  }
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

namespace {

void emit_jobs(const CompareSpec& spec, const std::vector<ArmRun>& runs, const std::string& binary) {
  const std::string dir = std::filesystem::absolute(spec.emit_jobs).string();
  const std::string config = std::filesystem::absolute(join_path(spec.output_dir, "compare_config.json")).string();
  make_dirs(join_path(dir, "logs"));
  std::string lines;
  size_t pending = 0;
  for (size_t i = 0; i < runs.size(); ++i) {
    if (file_exists(join_path(runs[i].dir, "results.json")) && !spec.overwrite) continue;
    // The relative paths of the config (data, model, output) resolve against the directory compare ran in.
    lines += "cd " + shell_quote(std::filesystem::current_path().string()) + " && " + shell_quote(binary) +
             " compare --config " + shell_quote(config) + " --only " + std::to_string(i + 1) + "\n";
    ++pending;
  }
  write_file_atomic(join_path(dir, "jobs.sh"), "# One finished-or-resumed run per line (finetune compare --emit-jobs).\n" + lines);
  write_file_atomic(join_path(dir, "slurm.sbatch"),
                    "#!/bin/bash\n"
                    "#SBATCH --job-name=finetune-compare\n"
                    "#SBATCH --array=1-" + std::to_string(std::max<size_t>(pending, 1)) + "\n"
                    "#SBATCH --output=" + join_path(dir, "logs") + "/%A_%a.log\n"
                    "# Task k runs the k-th run of jobs.sh; then: finetune report --run-dir " + spec.output_dir + "\n"
                    "set -euo pipefail\n"
                    "line=$(grep -v '^#' " + shell_quote(join_path(dir, "jobs.sh")) + " | sed -n \"${SLURM_ARRAY_TASK_ID}p\")\n"
                    "bash -c \"$line\"\n");
  info("wrote " + std::to_string(pending) + " jobs to " + join_path(dir, "jobs.sh") + " and " + join_path(dir, "slurm.sbatch") +
       "; when they are done: finetune report --run-dir " + spec.output_dir);
}

// The model, adapter and tokenizer folders the arms read: the output folder must stay apart from them.
std::vector<std::string> arm_inputs(const std::vector<ArmRun>& runs) {
  std::vector<std::string> inputs;
  for (const ArmRun& r : runs)
    for (const char* key : {"model_name_or_path", "adapter", "tokenizer_name"})
      if (r.config.contains(key) && r.config[key].is_string()) inputs.push_back(r.config[key].get<std::string>());
  return inputs;
}

}  // namespace

nlohmann::json run_compare(const CompareSpec& spec, const std::string& finetune_binary) {
  const std::vector<ArmRun> runs = spec.expand();
  if (spec.only > runs.size()) throw Error("compare: --only " + std::to_string(spec.only) + ": there are " + std::to_string(runs.size()) + " runs");
  // The tasks of a cluster job (--only) share the folder, each writing its own run's subfolder.
  const RunFolder folder =
      RunFolder::claim(spec.output_dir, {"compare", arm_inputs(runs), spec.overwrite_output_dir, /*shared=*/spec.only > 0});
  write_json_atomic(join_path(spec.output_dir, "compare_config.json"), spec.to_json());
  if (!spec.emit_jobs.empty()) {
    emit_jobs(spec, runs, finetune_binary);
    return nullptr;
  }

  struct sigaction sa {}, old_int {}, old_term {};
  sa.sa_handler = on_interrupt;
  sigaction(SIGINT, &sa, &old_int);
  sigaction(SIGTERM, &sa, &old_term);
  g_interrupted = false;
  struct Restore {
    struct sigaction &i, &t;
    ~Restore() {
      sigaction(SIGINT, &i, nullptr);
      sigaction(SIGTERM, &t, nullptr);
    }
  } restore{old_int, old_term};

  auto label_of = [&](size_t i) {
    const nlohmann::json& lr = runs[i].config["learning_rate"];
    const bool swept = std::count_if(runs.begin(), runs.end(), [&](const ArmRun& o) {
                         return o.arm == runs[i].arm && o.seed == runs[i].seed;
                       }) > 1;
    return "[" + std::to_string(i + 1) + "/" + std::to_string(runs.size()) + "] " + runs[i].arm +
           (swept ? " lr " + lr.dump() : "") + (spec.seeds.size() > 1 ? " seed " + std::to_string(runs[i].seed) : "");
  };
  const size_t slots = spec.devices.empty() ? std::max<size_t>(1, spec.parallel) : spec.devices.size();
  // Several runs at once share the cores unless the config says how many threads each takes.
  const int threads_each = std::max(1, static_cast<int>(std::thread::hardware_concurrency()) / static_cast<int>(slots));
  auto place = [&](nlohmann::json& config, size_t slot) {
    if (!spec.devices.empty()) config["device"] = spec.devices[slot];
    if (slots > 1 && config.value("threads", 0) == 0) config["threads"] = threads_each;
    // Runs at once on one CPU share its cores and memory bandwidth: their times say so.
    config["concurrent_runs"] = spec.devices.empty() ? slots : 1;
  };
  auto selected = [&](size_t i) { return spec.only == 0 || spec.only == i + 1; };

  std::vector<Job> training;
  std::vector<bool> trained_now(runs.size(), false);
  for (size_t i = 0; i < runs.size(); ++i) {
    if (!selected(i)) continue;
    const ArmRun& r = runs[i];
    const std::string results = join_path(r.dir, "results.json");
    if (file_exists(results) && !spec.overwrite) {
      info(label_of(i) + ": finished earlier, kept (" + results + "; --overwrite re-runs it)");
      continue;
    }
    // A new arm folder is ours from the start (its config goes there before the run claims it).
    if (!dir_exists(r.dir) || list_dir(r.dir).empty()) {
      make_dirs(r.dir);
      mark_written_by_finetune(r.dir);
    }
    remove_stale_temp_files(r.dir);
    // Checkpoints every epoch (unless the arm says otherwise), so an interrupted arm continues from
    // its newest one instead of from step 0; --overwrite starts it clean.
    if (spec.overwrite)
      for (const std::string& path : list_dir(r.dir))
        if (path.find("/checkpoint-") != std::string::npos) remove_our_folder(path);
    trained_now[i] = true;
    training.push_back({label_of(i), r.dir, slots > 1 ? join_path(r.dir, "train.log") : "", i, {}});
  }
  run_jobs(finetune_binary, training, slots, [&](Job& job, size_t slot) {
    const ArmRun& r = runs[job.run];
    nlohmann::json config = r.config;
    if (config.value("save_strategy", std::string("no")) == "no") config["save_strategy"] = "epoch";
    if (!config.contains("save_total_limit")) config["save_total_limit"] = 1;
    if (spec.overwrite_output_dir) config["overwrite_output_dir"] = true;
    place(config, slot);
    const std::string cfg = join_path(r.dir, "arm_config.json");
    write_json_atomic(cfg, config);
    job.args = {"train", "--config", cfg};
    const std::string where = spec.devices.empty() ? "" : " on " + spec.devices[slot];
    if (const std::string ckpt = train::latest_checkpoint(r.dir); !ckpt.empty()) {
      info(job.label + ": resuming from " + ckpt + where + " → " + r.dir);
      job.args.push_back("--resume");
    } else {
      info(job.label + ": training" + where + " → " + r.dir);
    }
  }, "training");

  if (spec.robustness) {
    std::vector<Job> robustness;
    for (size_t i = 0; i < runs.size(); ++i) {
      if (!selected(i)) continue;
      const std::string out = join_path(runs[i].dir, "robustness");
      if (!trained_now[i] && !spec.overwrite && robustness_up_to_date(out, *spec.robustness)) {
        info(label_of(i) + ": robustness finished earlier, kept (" + out + ")");
        continue;
      }
      robustness.push_back({label_of(i), out, slots > 1 ? join_path(runs[i].dir, "robustness.log") : "", i, {}});
    }
    run_jobs(finetune_binary, robustness, slots, [&](Job& job, size_t slot) {
      const ArmRun& r = runs[job.run];
      nlohmann::json config = robustness_config(r, *spec.robustness, job.dir);
      place(config, slot);
      const std::string cfg = join_path(r.dir, "robustness_config.json");
      write_json_atomic(cfg, config);
      job.args = {"robustness", "--config", cfg};
      info(job.label + ": robustness → " + job.dir);
    }, "robustness");
  }
  if (spec.only > 0) return nullptr;  // one run of a cluster job: `finetune report` gathers them all

  std::vector<report::RunInfo> infos;
  for (const ArmRun& r : runs) infos.push_back({r.arm, r.seed, r.dir});
  report::ComparisonOptions options;
  options.baseline_arm = spec.baseline;
  options.equivalence_margin = spec.equivalence_margin / 100;
  return report::write_comparison_outputs(spec.output_dir, infos, options);
}

}  // namespace ft::experiment
