// finetune report: comparison.json, report.md, dashboard.png and tradeoff.png from the run
// folders (each with a results.json) below --run-dir, written into --run-dir itself.
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "core/error.h"
#include "core/files.h"
#include "core/log.h"
#include "report/comparison.h"

namespace ft::cli {
namespace {

struct ReportArgs {
  std::string run_dir;
  double margin_points = 0;  // 0: compare_config.json's, else 1.0
  report::ComparisonOptions options;
};

void run_report(ReportArgs a) {
  // A folder `finetune compare` made keeps the baseline its config named.
  const std::string compare_config = join_path(a.run_dir, "compare_config.json");
  if (file_exists(compare_config)) {
    const nlohmann::json c = read_json(compare_config);
    if (a.options.baseline_arm.empty() && c.contains("baseline") && c["baseline"].is_string())
      a.options.baseline_arm = c["baseline"];
    if (a.margin_points == 0 && c.contains("equivalence_margin")) {
      if (!c["equivalence_margin"].is_number() || !(c["equivalence_margin"].get<double>() > 0))
        throw Error(compare_config + ": equivalence_margin must be a positive number, got " + c["equivalence_margin"].dump());
      a.margin_points = c["equivalence_margin"].get<double>();
    }
  }
  if (a.margin_points > 0) a.options.equivalence_margin = a.margin_points / 100;
  const std::vector<report::RunInfo> runs = report::discover_runs(a.run_dir);
  info("comparing " + std::to_string(runs.size()) + " runs below " + a.run_dir);
  const nlohmann::json c = report::write_comparison_outputs(a.run_dir, runs, a.options);
  for (const char* name : {"comparison.json", "report.md", "dashboard.png", "tradeoff.png", "robustness.png"})
    if (std::string(name) != "robustness.png" || c.contains("robustness") || c.contains("calibration"))
      info("wrote " + join_path(a.run_dir, name));
  // The verdicts are the answer; print them on stdout so scripts can read them.
  std::cout << report::verdict_lines(c);
}

}  // namespace

void add_report_command(CLI::App& app) {
  auto* cmd = app.add_subcommand("report", "Compare training runs: comparison.json, report.md and charts");
  auto args = std::make_shared<ReportArgs>();
  cmd->add_option("--run-dir", args->run_dir, "Folder whose subfolders hold the runs' results.json; outputs go here")
      ->required()
      ->check(CLI::ExistingDirectory);
  cmd->add_option("--baseline", args->options.baseline_arm,
                  "Arm to compare against (default: the baseline in compare_config.json, else the first full arm)");
  cmd->add_option("--equivalence-margin", args->margin_points,
                  "TOST margin on the accuracy difference, in points (default: compare_config.json's, else 1.0)")
      ->check(CLI::PositiveNumber);
  cmd->callback([args] { run_report(*args); });
}

}  // namespace ft::cli
