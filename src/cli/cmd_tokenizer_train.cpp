// finetune tokenizer train: learns a WordPiece vocabulary from plain-text files (one text a line) and
// writes a tokenizer directory that Tokenizer::from_dir and HF's BertTokenizer(Fast) load.
// The algorithm is described in text/vocab_trainer.h.
#include <chrono>
#include <memory>

#include "cli/commands.h"
#include "core/log.h"
#include "text/vocab_trainer.h"

namespace ft::cli {
namespace {

struct TrainArgs {
  std::vector<std::string> inputs;
  std::string output;
  size_t vocab_size = 0, max_lines = 0;
  int64_t min_frequency = 2;
  size_t limit_alphabet = 1000;
  bool lowercase = false;
};

void run_train(const TrainArgs& a) {
  const auto start = std::chrono::steady_clock::now();
  text::VocabTrainerOptions opts;
  opts.vocab_size = a.vocab_size;
  opts.min_frequency = a.min_frequency;
  opts.limit_alphabet = a.limit_alphabet;
  opts.tokenizer.do_lower_case = a.lowercase;
  text::VocabTrainer trainer(opts);
  size_t lines = 0;
  for (const auto& input : a.inputs) {
    if (a.max_lines > 0 && lines == a.max_lines) break;
    lines += trainer.add_file(input, a.max_lines > 0 ? a.max_lines - lines : 0);
  }
  info("read " + std::to_string(lines) + " lines, " + std::to_string(trainer.distinct_words()) + " distinct words");
  const text::TrainedVocab trained = trainer.train();
  trained.tokenizer.save(a.output);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  info("vocabulary of " + std::to_string(trained.tokenizer.vocab_size()) + " (" +
       std::to_string(opts.special_tokens.size()) + " special, " + std::to_string(trained.alphabet_size) +
       " alphabet, " + std::to_string(trained.merges) + " merges; " + std::to_string(trained.skipped_words) +
       " words left out for characters outside the alphabet) written to " + a.output + " in " +
       std::to_string(seconds) + " s");
}

}  // namespace

void add_tokenizer_command(CLI::App& app) {
  auto* cmd = app.add_subcommand("tokenizer", "Tokenizer tools");
  cmd->require_subcommand(1);
  auto* train = cmd->add_subcommand(
      "train",
      "Learn a WordPiece vocabulary from text files (special tokens [CLS]=0 [PAD]=1 [SEP]=2 [UNK]=3 [MASK]=4)");
  auto args = std::make_shared<TrainArgs>();
  train->add_option("--input", args->inputs, "Plain-text file, one text a line (repeat for more files)")->required();
  train->add_option("--vocab-size", args->vocab_size, "Vocabulary size, special tokens and alphabet included")
      ->required()
      ->check(CLI::PositiveNumber);
  train->add_option("--output", args->output, "Tokenizer directory to write")->required();
  train->add_option("--min-frequency", args->min_frequency, "Stop when the most frequent pair is rarer than this")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  train->add_option("--limit-alphabet", args->limit_alphabet, "Keep this many most frequent characters (0: all)")
      ->capture_default_str();
  train->add_option("--max-lines", args->max_lines, "Read at most this many lines over all inputs (0: all)");
  train->add_flag("--lowercase", args->lowercase, "Lowercase and strip accents (an uncased tokenizer)");
  train->callback([args] { run_train(*args); });
}

}  // namespace ft::cli
