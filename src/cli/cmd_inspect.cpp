#include <iostream>

#include "cli/commands.h"

namespace ft::cli {

void add_inspect_command(CLI::App& app) {
  auto* cmd = app.add_subcommand("inspect", "Show a model's configuration and parameter counts");
  auto model = std::make_shared<std::string>();
  cmd->add_option("--model", *model, "Model directory (config.json + weights)")->required();
  cmd->callback([model] { std::cout << *model << "\n"; });
}

}  // namespace ft::cli
