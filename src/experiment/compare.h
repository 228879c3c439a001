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
  double equivalence_margin = 1.0;                   // TOST margin, in accuracy points
  // When set, every finished arm is also evaluated on perturbed copies of its eval set
  // (`finetune robustness` into <arm dir>/robustness), and the report compares the drops.
  std::optional<RobustnessSettings> robustness;

  // The study's protocol: full (lr 2e-5) vs LoRA (r 8, alpha 32, query+value, lr 2e-4), batch 32,
  // 3 epochs, max length 128, seed 42, evaluation every epoch.
  static CompareSpec study_defaults();
  // Reads {"output_dir", "seeds", "baseline", "equivalence_margin", "common": {...}, "arms": [{...}, ...],
  // "robustness": {"perturbations": [{"name", "rate"}, ...], "seed"}} over the defaults.
  void update_from_json(const nlohmann::json& j, const std::string& source);
  // One run per seed × arm (× learning rate, for an arm that lists several: output_dir/arm/lr-R/...):
  // dir = output_dir/arm (one seed) or output_dir/arm/seed-S. A learning-rate sweep without a
  // validation set (validation_split or validation_file) is an error: the test set would choose.
  std::vector<ArmRun> expand() const;
};

// Runs every unfinished arm (results.json absent, or all with overwrite) by spawning
// `finetune_binary train --config DIR/arm_config.json`; with robustness settings, then
// `finetune_binary robustness --config DIR/robustness_config.json` for every arm trained now or
// whose robustness.json is missing or made with other settings; then writes comparison.json, report.md,
// dashboard.png and tradeoff.png. Ctrl-C stops after the running arm is killed: finished arms stay,
// no partial file is left, and a re-run continues. Returns the comparison.
nlohmann::json run_compare(const CompareSpec& spec, const std::string& finetune_binary);

}  // namespace ft::experiment
