// finetune merge: fold a LoRA adapter into the base weights and write a plain HF model.
#include <iostream>

#include "cli/commands.h"
#include "cli/options.h"
#include "core/run_folder.h"
#include "io/hf_model.h"
#include "io/model_loader.h"

namespace ft::cli {

void add_merge_command(CLI::App& app) {
  auto* cmd = app.add_subcommand("merge", "Merge a LoRA adapter into its base model (PEFT's merge_and_unload)");
  auto spec = std::make_shared<model::ModelSpec>();
  auto out = std::make_shared<std::string>();
  cmd->add_option("--model", spec->dir, "Base model directory")->required();
  cmd->add_option("--adapter", spec->adapter_dir, "PEFT adapter directory")->required();
  cmd->add_flag("--random-init", spec->random_init, "The base was trained from random init (config.json + seed)");
  cmd->add_option("--seed", spec->seed, "Seed of that random init")->capture_default_str();
  cmd->add_option("--output-dir", *out, "Where the merged model goes")->required();
  auto overwrite = std::make_shared<bool>(false);
  cmd->add_flag("--overwrite-output-dir", *overwrite, "Write into a non-empty folder that is not a finetune run");
  cmd->callback([=] {
    const RunFolder folder = RunFolder::claim(*out, {"merge", {spec->dir, spec->adapter_dir}, *overwrite});
    model::Transformer m = io::build_model(*spec);
    m->merge_lora();
    io::save_model(*out, *m);
    io::copy_tokenizer_files(spec->dir, *out);
    std::cout << "merged " << spec->adapter_dir << " into " << spec->dir << " → " << *out << "\n";
  });
}

}  // namespace ft::cli
