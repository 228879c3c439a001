// finetune inspect: what a model is and what a training method would train of it.
#include <cstdio>
#include <iostream>

#include "cli/commands.h"
#include "cli/options.h"
#include "io/model_loader.h"
#include "report/format.h"

namespace ft::cli {
namespace {

struct InspectArgs {
  model::ModelSpec spec;
  bool json = false;
};

void run_inspect(const InspectArgs& a) {
  model::Transformer m = io::build_model(a.spec);
  const model::ModelConfig& c = m->config();
  const model::ParamCounts counts = model::count_parameters(*m);
  const bool lora = m->has_lora();
  if (a.json) {
    nlohmann::json groups = nlohmann::json::object();
    for (const auto& g : counts.groups) groups[g.name] = g.count;
    nlohmann::json j = {{"model", a.spec.dir},
                        {"architecture", m->architecture()},
                        {"config", c.to_json(m->architecture())},
                        {"method", lora ? "lora" : a.spec.method},
                        {"parameters", {{"total", counts.base}, {"adapter", counts.adapter},
                                        {"trainable", counts.trainable},
                                        {"trainable_percent", counts.trainable_percent()},
                                        {"groups", groups}}}};
    std::cout << j.dump(2) << "\n";
    return;
  }
  std::string labels;
  for (size_t i = 0; i < c.id2label.size(); ++i) labels += (i ? ", " : "") + c.id2label[i];
  std::printf("model         %s\n", a.spec.dir.c_str());
  std::printf("architecture  %s (%s)\n", m->architecture().c_str(), a.spec.random_init ? "random init" : "pretrained weights");
  std::printf("shape         %lld layers, hidden %lld, %lld heads, intermediate %lld, %s\n",
              (long long)c.num_hidden_layers, (long long)c.hidden_size, (long long)c.num_attention_heads,
              (long long)c.intermediate_size, c.hidden_act.c_str());
  std::printf("vocabulary    %lld tokens, %lld positions, pad id %lld\n", (long long)c.vocab_size,
              (long long)c.max_position_embeddings, (long long)c.pad_token_id);
  std::printf("labels        %lld (%s)\n\nparameters\n", (long long)c.num_labels(), labels.c_str());
  for (const auto& g : counts.groups)
    if (g.name != "lora") std::printf("  %-20s %15s\n", g.name.c_str(), report::format_count(g.count).c_str());
  std::printf("  %-20s %15s\n", "total (model)", report::format_count(counts.base).c_str());
  if (counts.adapter > 0) std::printf("  %-20s %15s\n", "+ LoRA adapter", report::format_count(counts.adapter).c_str());
  std::printf("\n");
  if (lora) {
    const auto& l = a.spec.lora;
    std::string targets;
    for (size_t i = 0; i < l.target_modules.size(); ++i) targets += (i ? "," : "") + l.target_modules[i];
    std::printf("method        lora (r %d, alpha %g, dropout %g, targets %s)\n", l.r, l.alpha, l.dropout, targets.c_str());
  } else {
    std::printf("method        %s\n", a.spec.method.c_str());
  }
  std::printf("trainable params: %s || all params: %s || trainable%%: %.4f\n", report::format_count(counts.trainable).c_str(),
              report::format_count(counts.base).c_str(), counts.trainable_percent());
}

}  // namespace

void add_inspect_command(CLI::App& app) {
  auto* cmd = app.add_subcommand("inspect", "Show a model's configuration and parameter counts");
  auto args = std::make_shared<InspectArgs>();
  add_model_options(cmd, args->spec);
  add_method_options(cmd, args->spec);
  cmd->add_flag("--json", args->json, "Print one JSON object instead of a table");
  cmd->callback([args] { run_inspect(*args); });
}

}  // namespace ft::cli
