// finetune eval: metrics and per-example predictions of a model (optionally with an adapter).
#include <cstdio>
#include <iostream>
#include <optional>

#include "cli/commands.h"
#include "cli/options.h"
#include "core/run_folder.h"
#include "train/run.h"

namespace ft::cli {

void add_eval_command(CLI::App& app) {
  auto* cmd = app.add_subcommand("eval", "Evaluate a model on labelled data: loss, accuracy, P/R/F1, confusion matrix");
  auto overrides = std::make_shared<nlohmann::json>(nlohmann::json::object());
  auto config = std::make_shared<std::string>();
  auto json = std::make_shared<bool>(false);
  cmd->add_option("--config", *config, "JSON file with the same keys (command-line flags win)");
  cmd->add_flag("--json", *json, "Print the metrics as one JSON object");
  add_run_options(cmd, overrides, /*training=*/false);
  cmd->callback([=] {
    nlohmann::json j = merged_config(*config, *overrides);
    const std::string out_dir = j.value("output_dir", "");
    j.erase("output_dir");
    const train::RunSpec spec = train::RunSpec::from_json(j, config->empty() ? "command line" : *config);
    std::optional<RunFolder> folder;
    if (!out_dir.empty())
      folder.emplace(RunFolder::claim(out_dir, {"eval", {spec.model.dir, spec.model.adapter_dir, spec.tokenizer_dir},
                                                spec.args.overwrite_output_dir}));
    const nlohmann::json m = train::run_evaluation(spec, out_dir);
    if (*json) {
      std::cout << m.dump(2) << "\n";
      return;
    }
    std::printf("examples   %lld\nloss       %.4f\naccuracy   %.4f\nprecision  %.4f\nrecall     %.4f\nf1         %.4f\nmacro f1   %.4f\n",
                m["n"].get<long long>(), m["loss"].get<double>(), m["accuracy"].get<double>(), m["precision"].get<double>(),
                m["recall"].get<double>(), m["f1"].get<double>(), m["macro_f1"].get<double>());
    std::printf("confusion (rows: true label, columns: predicted)\n");
    for (const auto& row : m["confusion"]) {
      for (const auto& v : row) std::printf("  %8lld", v.get<long long>());
      std::printf("\n");
    }
  });
}

}  // namespace ft::cli
