// finetune pretrain: masked-language-model pretraining on a plain-text corpus, from scratch or
// continued from a checkpoint.
#include <iostream>
#include <memory>

#include "cli/commands.h"
#include "cli/options.h"
#include "distributed/group.h"
#include "train/pretrain.h"

namespace ft::cli {

void add_pretrain_command(CLI::App& app) {
  auto* cmd = app.add_subcommand("pretrain", "Masked-LM pretraining (from scratch or continued) on one document a line");
  auto a = std::make_shared<train::PretrainArguments>();
  auto* config = cmd->add_option("--model-config", a->model_config, "Directory with config.json (+ tokenizer): random init");
  auto* model = cmd->add_option("--model", a->model, "Model directory with weights: continue pretraining from them");
  config->excludes(model);
  cmd->add_option("--tokenizer", a->tokenizer, "Tokenizer directory (default: the model's)");
  cmd->add_option("--corpus", a->corpus, "Text file, one document (review) a line")->required();
  cmd->add_option("--output-dir", a->output_dir, "Where the model, checkpoint/ and results go")->required();
  cmd->add_flag("--resume", a->resume, "Continue from output-dir/checkpoint (same data settings)");
  cmd->add_flag("--overwrite-output-dir", a->overwrite_output_dir, "Write into a non-empty folder that is not a finetune run");
  cmd->add_option("--eval-lines", a->eval_lines, "The corpus's last N lines are held out for MLM evaluation")->capture_default_str();
  cmd->add_option("--max-length", a->max_length, "Tokens per packed sequence")->capture_default_str();
  cmd->add_option("--mlm-probability", a->mlm_probability, "Share of tokens to predict")->capture_default_str();
  cmd->add_option("--max-steps", a->max_steps, "Optimizer steps (wins over epochs)");
  cmd->add_option("--num-train-epochs", a->num_train_epochs, "Epochs over the packed sequences, when --max-steps is not given");
  cmd->add_option("--per-device-train-batch-size", a->per_device_train_batch_size, "Sequences per batch")->capture_default_str();
  cmd->add_option("--per-device-eval-batch-size", a->per_device_eval_batch_size, "Sequences per evaluation batch")->capture_default_str();
  cmd->add_option("--gradient-accumulation-steps", a->gradient_accumulation_steps, "Batches per optimizer step")->capture_default_str();
  cmd->add_option("--learning-rate", a->learning_rate, "Peak learning rate")->capture_default_str();
  cmd->add_option("--weight-decay", a->weight_decay, "AdamW weight decay, not on biases/LayerNorm")->capture_default_str();
  cmd->add_option("--adam-beta1", a->adam_beta1, "AdamW beta1")->capture_default_str();
  cmd->add_option("--adam-beta2", a->adam_beta2, "AdamW beta2")->capture_default_str();
  cmd->add_option("--adam-epsilon", a->adam_epsilon, "AdamW epsilon")->capture_default_str();
  cmd->add_option("--warmup-ratio", a->warmup_ratio, "Linear warmup as a share of all steps")->capture_default_str();
  cmd->add_option("--warmup-steps", a->warmup_steps, "Warmup steps (win over the ratio when > 0)");
  cmd->add_option("--max-grad-norm", a->max_grad_norm, "Gradient clipping norm; 0 disables")->capture_default_str();
  cmd->add_option("--logging-steps", a->logging_steps, "Log the mean training loss every N steps")->capture_default_str();
  cmd->add_option("--eval-steps", a->eval_steps, "Evaluate every N steps (0: only at the end)")->capture_default_str();
  cmd->add_option("--save-steps", a->save_steps, "Checkpoint every N steps (0: never)")->capture_default_str();
  cmd->add_option("--seed", a->seed, "Seed for init, data order, masks and dropout")->capture_default_str();
  cmd->add_flag("--bf16", a->bf16, "bf16 autocast (CUDA or CPU)");
  cmd->add_flag("--fp16", a->fp16, "fp16 autocast with loss scaling (CUDA only)");
  cmd->add_option("--device", a->device, "auto | cpu | cuda")->capture_default_str();
  cmd->add_option("--threads", a->threads, "CPU threads (default: all cores)");
  cmd->add_option("--ddp-timeout", a->ddp_timeout, "Data parallel: seconds a rendezvous or all-reduce may wait")->capture_default_str();
  auto nproc = add_nproc_option(cmd);
  cmd->callback([a, cmd, nproc] {
    if (launch_here(*nproc)) return;
    // The command line as parsed (options in declaration order), for pretrain_results.json.
    std::string line = "finetune pretrain";
    for (const auto* opt : cmd->get_options())
      if (opt->count() > 0 && opt->get_name() != "--help")
        line += " " + opt->get_name() + (opt->get_type_size() == 0 ? "" : " " + opt->as<std::string>());
    a->command_line = line;
    const train::PretrainOutcome out = train::run_pretraining(*a);
    if (distributed::launch_env().rank == 0) std::cout << out.results.dump(2) << "\n";
  });
}

}  // namespace ft::cli
