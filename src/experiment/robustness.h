// `finetune robustness`: a model (optionally with an adapter) evaluated on its clean test set and on
// seeded perturbed copies of it (text/perturb.h). Every copy is written out and evaluated as a file of
// its own, exactly as `finetune eval` would, and keeps its predictions, so two arms' figures can be
// paired example by example (report/comparison.h reads them from <run>/robustness/).
#pragma once
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "text/perturb.h"
#include "train/run.h"

namespace ft::experiment {

// Which perturbations, and their seed: the same for every arm and training seed, so all arms are
// scored on the same perturbed texts.
struct RobustnessSettings {
  std::vector<text::Perturbation> perturbations = text::default_perturbations();
  int64_t seed = 42;

  // {"perturbations": "jamo:0.1,..." or [{"name": "jamo", "rate": 0.1}, ...], "seed": 42}; both optional.
  // Throws ft::Error naming `source` and the field.
  static RobustnessSettings from_json(const nlohmann::json& j, const std::string& source);
  nlohmann::json to_json() const;
  bool operator==(const RobustnessSettings& o) const { return perturbations == o.perturbations && seed == o.seed; }
};

struct RobustnessSpec {
  train::RunSpec run;  // model, adapter, eval_file (the clean test set), data and evaluation settings
  RobustnessSettings settings;
  std::string output_dir;

  // The evaluation keys of RunSpec plus output_dir, perturbations and perturbation_seed.
  static RobustnessSpec from_json(const nlohmann::json& j, const std::string& source);
};

// Writes into output_dir: data/<set>.tsv (the clean subset and each perturbed copy), eval/<set>/
// (predictions.tsv, eval_results.json), robustness.md, and last robustness.json:
//   {model, adapter, random_init, data, n, seed, perturbations: [...],
//    results: [{perturbation ("clean" first, then "name:rate"), name, rate, changed (share of texts
//               the perturbation altered), accuracy, f1, loss, drop (clean − this accuracy),
//               data, predictions (paths relative to output_dir)}]}.
// Returns that document.
nlohmann::json run_robustness(const RobustnessSpec& spec);

// Whether output_dir holds a finished robustness.json made with these settings.
bool robustness_up_to_date(const std::string& output_dir, const RobustnessSettings& settings);

// The markdown table of a robustness.json document (what robustness.md holds).
std::string robustness_markdown(const nlohmann::json& robustness);

}  // namespace ft::experiment
