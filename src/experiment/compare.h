// An experiment: several training arms (full, LoRA with various ranks/targets, head-only, ...) run on
// the same data in the same order, each seed × arm in its own process, then compared.
#pragma once
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "experiment/robustness.h"

namespace ft::experiment {

struct ArmRun {
  std::string arm;
  int64_t seed;
  std::string dir;         // output_dir of the run
  nlohmann::json config;   // everything `finetune train --config` needs
};

struct CompareSpec {
  std::string output_dir;
  std::vector<int64_t> seeds = {42};
  nlohmann::json common = nlohmann::json::object();  // run keys shared by all arms
  nlohmann::json arms = nlohmann::json::array();     // per-arm keys; each needs "arm"
  std::string baseline;                              // empty: the first full fine-tuning arm
  bool overwrite = false;
  bool overwrite_output_dir = false;  // allow an output_dir that is not empty and not one of our runs
  double equivalence_margin = 1.0;                   // TOST margin, in accuracy points
  // When set, every finished arm is also evaluated on perturbed copies of its eval set
  // (`finetune robustness` into <arm dir>/robustness), and the report compares the drops.
  std::optional<RobustnessSettings> robustness;
  // Where runs go: up to `parallel` at a time on the CPU (each with its share of the cores unless the
  // config sets threads), or one at a time per device in `devices` (e.g. cuda:0, cuda:1). Several at
  // once write their output to <run>/train.log and <run>/robustness.log.
  size_t parallel = 1;
  std::vector<std::string> devices;
  // Cluster use: with emit_jobs, write the pending runs as jobs (see emit_jobs) instead of running
  // them; with only = i (1-based, the [i/N] of the messages), run that one run and write no report.
  std::string emit_jobs;
  size_t only = 0;

  // The study's protocol: full (lr 2e-5) vs LoRA (r 8, alpha 32, query+value, lr 2e-4), batch 32,
  // 3 epochs, max length 128, seed 42, evaluation every epoch.
  static CompareSpec study_defaults();
  // Reads {"output_dir", "seeds", "baseline", "equivalence_margin", "common": {...}, "arms": [{...}, ...],
  // "robustness": {"perturbations": [{"name", "rate"}, ...], "seed"}} over the defaults.
  void update_from_json(const nlohmann::json& j, const std::string& source);
  // The experiment as update_from_json reads it (compare_config.json): what the jobs of a cluster re-read.
  nlohmann::json to_json() const;
  // One run per seed × arm (× learning rate, for an arm that lists several: output_dir/arm/lr-R/...):
  // dir = output_dir/arm (one seed) or output_dir/arm/seed-S. A learning-rate sweep without a
  // validation set (validation_split or validation_file) is an error: the test set would choose.
  std::vector<ArmRun> expand() const;
};

// With spec.emit_jobs = DIR: writes DIR/jobs.sh, one line per pending run (`finetune compare --config
// OUT/compare_config.json --only i`: trains run i, resuming from its checkpoint, and its robustness
// run), and DIR/slurm.sbatch, an array job (`sbatch DIR/slurm.sbatch`) whose task k runs line k.
// When they are done, `finetune report --run-dir OUT` (or this compare again) writes the report.
//
// Runs every unfinished arm (results.json absent, or all with overwrite) by spawning
// `finetune_binary train --config DIR/arm_config.json`; with robustness settings, then
// `finetune_binary robustness --config DIR/robustness_config.json` for every arm trained now or
// whose robustness.json is missing or made with other settings; then writes comparison.json, report.md,
// dashboard.png and tradeoff.png. Ctrl-C stops after the running arm is killed: finished arms stay,
// no partial file is left, and a re-run continues. Returns the comparison.
nlohmann::json run_compare(const CompareSpec& spec, const std::string& finetune_binary);

}  // namespace ft::experiment
