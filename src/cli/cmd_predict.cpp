// finetune predict: labels and probabilities for texts given on the command line or in a file.
#include <cstdio>
#include <iostream>

#include "cli/commands.h"
#include "cli/options.h"
#include "core/error.h"
#include "core/files.h"
#include "data/dataset.h"
#include "io/model_loader.h"
#include "text/tokenizer.h"
#include "train/inference.h"

namespace ft::cli {
namespace {

struct PredictArgs {
  model::ModelSpec spec;
  RuntimeOptions rt;
  std::vector<std::string> texts;
  std::string input, tokenizer_dir;
  int max_length = 128;
  int64_t batch_size = 64;
  bool json = false;
};

void run_predict(PredictArgs& a) {
  if (a.texts.empty() == a.input.empty()) throw Error("predict: give either --text (repeatable) or --input FILE");
  if (!a.input.empty()) {
    a.texts = data::read_lines(a.input);
    if (a.texts.empty()) throw Error(a.input + ": no texts (the file is empty)");
  }
  const std::string device = apply(a.rt);
  const text::Tokenizer tok = text::Tokenizer::from_dir(a.tokenizer_dir.empty() ? a.spec.dir : a.tokenizer_dir);
  model::Transformer m = io::build_model(a.spec);
  m->to(torch::Device(device));

  std::vector<std::vector<int64_t>> seqs;
  seqs.reserve(a.texts.size());
  for (const auto& t : a.texts) seqs.push_back(tok.encode(t, a.max_length));
  const train::InferenceResult r = train::run_inference(*m, seqs, {}, {a.batch_size, device});
  const torch::Tensor probs = torch::softmax(r.logits, -1);
  const auto& names = m->config().id2label;
  for (size_t i = 0; i < a.texts.size(); ++i) {
    const int64_t row = static_cast<int64_t>(i);
    const int64_t best = probs[row].argmax().item<int64_t>();
    if (a.json) {
      std::vector<double> p, l;
      for (int64_t k = 0; k < probs.size(1); ++k) {
        p.push_back(probs[row][k].item<double>());
        l.push_back(r.logits[row][k].item<double>());
      }
      std::cout << nlohmann::json{{"label", names[static_cast<size_t>(best)]}, {"probabilities", p}, {"logits", l}}.dump() << "\n";
    } else {
      std::printf("%s\t%.4f\t%s\n", names[static_cast<size_t>(best)].c_str(), probs[row][best].item<double>(), a.texts[i].c_str());
    }
  }
}

}  // namespace

void add_predict_command(CLI::App& app) {
  auto* cmd = app.add_subcommand("predict", "Classify texts with a fine-tuned model (optionally with a LoRA adapter)");
  auto args = std::make_shared<PredictArgs>();
  add_model_options(cmd, args->spec);
  add_runtime_options(cmd, args->rt);
  cmd->add_option("--text", args->texts, "A text to classify (repeatable)");
  cmd->add_option("--input", args->input, "A file with one text per line");
  cmd->add_option("--tokenizer", args->tokenizer_dir, "Tokenizer directory (default: the model directory)");
  cmd->add_option("--max-length", args->max_length, "Truncate to this many tokens")->capture_default_str();
  cmd->add_option("--batch-size", args->batch_size, "Texts per forward pass")->check(CLI::PositiveNumber)->capture_default_str();
  cmd->add_flag("--json", args->json, "One JSON object per input line: label, probabilities, logits");
  cmd->callback([args] { run_predict(*args); });
}

}  // namespace ft::cli
