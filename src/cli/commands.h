// Each subcommand lives in its own cmd_<name>.cpp and registers itself on the app.
#pragma once
#include <CLI/CLI.hpp>

namespace ft::cli {

void add_inspect_command(CLI::App& app);
void add_predict_command(CLI::App& app);
void add_report_command(CLI::App& app);
void add_tokenize_command(CLI::App& app);
void add_train_command(CLI::App& app);
void add_eval_command(CLI::App& app);
void add_merge_command(CLI::App& app);
void add_compare_command(CLI::App& app);
void add_tokenizer_command(CLI::App& app);
void add_pretrain_command(CLI::App& app);
void add_robustness_command(CLI::App& app);
void add_env_command(CLI::App& app);

}  // namespace ft::cli
