// finetune robustness: accuracy on a test set and on seeded perturbed copies of it (spacing, jamo
// typos, character noise, interjections), with the drop from clean for each.
#include <cstdio>

#include "cli/commands.h"
#include "cli/options.h"
#include "experiment/robustness.h"

namespace ft::cli {

void add_robustness_command(CLI::App& app) {
  auto* cmd = app.add_subcommand(
      "robustness", "Evaluate a model on a test set and on seeded perturbed copies of it (spacing, jamo typos, noise)");
  auto overrides = std::make_shared<nlohmann::json>(nlohmann::json::object());
  auto config = std::make_shared<std::string>();
  cmd->add_option("--config", *config, "JSON file with the same keys (command-line flags win)");
  add_run_options(cmd, overrides, /*training=*/false);
  add_json_option(cmd, "perturbations", Kind::Text,
                  "NAME:RATE,... of no_spaces, spacing, jamo, char_noise, interjection "
                  "(default no_spaces:1,spacing:0.2,jamo:0.1,char_noise:0.05,interjection:1)",
                  overrides);
  add_json_option(cmd, "perturbation_seed", Kind::Integer, "Seed of the perturbations (42), apart from --seed", overrides);
  cmd->callback([=] {
    const nlohmann::json j = merged_config(*config, *overrides);
    const auto spec = experiment::RobustnessSpec::from_json(j, config->empty() ? "command line" : *config);
    const nlohmann::json r = experiment::run_robustness(spec);
    const double clean = r["results"][0]["accuracy"];
    for (const auto& res : r["results"])
      std::printf("%-20s accuracy %.4f  change %+.2f pp  (%.0f%% of texts changed)\n",
                  res["perturbation"].get<std::string>().c_str(), res["accuracy"].get<double>(),
                  100 * (res["accuracy"].get<double>() - clean), 100 * res["changed"].get<double>());
    std::printf("written to %s (robustness.json, robustness.md)\n", spec.output_dir.c_str());
  });
}

}  // namespace ft::cli
