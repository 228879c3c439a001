// finetune: the command-line front end. All logic lives in finetune_core; this file only
// wires subcommands and turns errors into one clear line and a non-zero exit.
#include <c10/util/Exception.h>

#include <exception>
#include <iostream>

#include "cli/commands.h"
#include "core/blas_kernel.h"
#include "core/error.h"

int main(int argc, char** argv) {
  ft::ensure_best_blas_kernel(argv);
  CLI::App app{"finetune: full and LoRA fine-tuning of BERT/RoBERTa encoders, in C++"};
  app.require_subcommand(1);
  ft::cli::add_inspect_command(app);
  ft::cli::add_predict_command(app);
  ft::cli::add_report_command(app);
  ft::cli::add_tokenize_command(app);
  ft::cli::add_train_command(app);
  ft::cli::add_eval_command(app);
  ft::cli::add_merge_command(app);
  ft::cli::add_compare_command(app);
  ft::cli::add_tokenizer_command(app);
  ft::cli::add_pretrain_command(app);
  ft::cli::add_robustness_command(app);
  ft::cli::add_env_command(app);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  } catch (const ft::Error& e) {
    std::cerr << "error: " << e.what() << "\n";
    return 1;
  } catch (const c10::Error& e) {
    // libtorch's messages carry a C++ backtrace; the user needs the first line only.
    std::cerr << "error: " << e.what_without_backtrace() << "\n";
    return 1;
  } catch (const std::exception& e) {
    std::cerr << "error: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
