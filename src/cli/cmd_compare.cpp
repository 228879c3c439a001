// finetune compare: the study — full fine-tuning vs LoRA (or any list of arms), compared.
#include <unistd.h>

#include <iostream>

#include "cli/commands.h"
#include "cli/options.h"
#include "core/files.h"
#include "experiment/compare.h"
#include "report/comparison.h"

namespace ft::cli {
namespace {

std::string self_binary() {
  char buf[4096];
  const ssize_t n = ::readlink("/proc/self/exe", buf, sizeof buf - 1);
  return n > 0 ? std::string(buf, static_cast<size_t>(n)) : "finetune";
}

}  // namespace

void add_compare_command(CLI::App& app) {
  auto* cmd = app.add_subcommand("compare", "Run the arms of an experiment (default: the study's full vs LoRA) and compare them");
  auto config = std::make_shared<std::string>();
  auto out = std::make_shared<std::string>();
  auto seeds = std::make_shared<std::vector<int64_t>>();
  auto overwrite = std::make_shared<bool>(false);
  auto baseline = std::make_shared<std::string>();
  auto margin = std::make_shared<double>(0);  // 0: the config's, else 1.0
  auto common = std::make_shared<nlohmann::json>(nlohmann::json::object());
  auto parallel = std::make_shared<size_t>(1);
  auto devices = std::make_shared<std::vector<std::string>>();
  auto emit = std::make_shared<std::string>();
  auto only = std::make_shared<size_t>(0);
  cmd->add_option("--config", *config,
                  "Experiment JSON: {output_dir, seeds, baseline, equivalence_margin, common: {...}, arms: [{arm, ...}], "
                  "robustness: {perturbations: [{name, rate}], seed}}");
  cmd->add_option("--output-dir", *out, "Where the arms and the comparison go");
  cmd->add_option("--seeds", *seeds, "Comma-separated seeds; every arm runs once per seed")->delimiter(',');
  cmd->add_option("--baseline", *baseline, "The arm others are compared with (default: the first full arm)");
  cmd->add_flag("--overwrite", *overwrite, "Re-run arms that already finished");
  auto overwrite_dir = std::make_shared<bool>(false);
  cmd->add_flag("--overwrite-output-dir", *overwrite_dir, "Write into a non-empty folder that is not a finetune run");
  cmd->add_option("--equivalence-margin", *margin, "TOST margin on the accuracy difference, in points (default 1.0)")
      ->check(CLI::PositiveNumber);
  cmd->add_option("--parallel", *parallel, "Runs at once on the CPU, each with its share of the cores (1)")->check(CLI::Range(1, 64));
  cmd->add_option("--devices", *devices, "Comma-separated devices (cuda:0,cuda:1): one run at a time on each")->delimiter(',');
  cmd->add_option("--emit-jobs", *emit,
                  "Write the pending runs as DIR/jobs.sh (one command a line) and DIR/slurm.sbatch (an array job) instead of running them");
  cmd->add_option("--only", *only, "Run only run I (1-based, as the [I/N] messages count) and write no report")->check(CLI::PositiveNumber);
  // Flags that override the config's common settings.
  add_json_option(cmd, "model_name_or_path", Kind::Text, "Model directory (HF format)", common, "--model");
  add_json_option(cmd, "random_init", Kind::Flag, "Start every arm from random weights", common);
  add_json_option(cmd, "train_file", Kind::Text, "Labelled training data", common);
  add_json_option(cmd, "eval_file", Kind::Text, "Labelled evaluation data", common);
  add_json_option(cmd, "max_train_samples", Kind::Integer, "Seeded training subset", common);
  add_json_option(cmd, "max_eval_samples", Kind::Integer, "Seeded evaluation subset", common);
  add_json_option(cmd, "validation_split", Kind::Number,
                  "Hold out this fraction of the training data for evaluation and model selection; the test set is scored once, at the end",
                  common);
  add_json_option(cmd, "num_train_epochs", Kind::Number, "Epochs for every arm", common);
  add_json_option(cmd, "max_steps", Kind::Integer, "Steps for every arm (overrides epochs)", common);
  add_json_option(cmd, "eval_steps", Kind::Integer, "Also evaluate every N steps", common);
  add_json_option(cmd, "threads", Kind::Integer, "CPU threads per arm", common);
  add_json_option(cmd, "device", Kind::Text, "auto | cpu | cuda", common);
  add_json_option(cmd, "fp16", Kind::Flag, "fp16 autocast (CUDA)", common);
  cmd->callback([=] {
    experiment::CompareSpec spec = experiment::CompareSpec::study_defaults();
    if (!config->empty()) spec.update_from_json(read_json(*config), *config);
    if (!out->empty()) spec.output_dir = *out;
    if (!seeds->empty()) spec.seeds = *seeds;
    if (!baseline->empty()) spec.baseline = *baseline;
    spec.overwrite = *overwrite;
    spec.overwrite_output_dir = *overwrite_dir;
    spec.parallel = *parallel;
    spec.devices = *devices;
    spec.emit_jobs = *emit;
    spec.only = *only;
    if (*margin > 0) spec.equivalence_margin = *margin;
    // eval_steps alone means "evaluate every N steps" on top of the epoch-end evaluations.
    if (common->contains("eval_steps")) (*common)["eval_strategy"] = "steps";
    spec.common.update(*common);
    const nlohmann::json c = experiment::run_compare(spec, self_binary());
    if (c.is_null()) return;  // jobs written, or one run of them done
    std::cout << report::verdict_lines(c) << "comparison written to " << spec.output_dir
              << " (report.md, comparison.json, dashboard.png, tradeoff.png, robustness.png)\n";
  });
}

}  // namespace ft::cli
