// finetune tokenize: one JSON object per input text, in input order: {"input_ids": [...]} plus
// "tokens" with --tokens. Input: a TSV with a header (the column defaults to `document`) when its
// first line has a TAB, else one text per line (see data/dataset.h).
#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "core/error.h"
#include "core/files.h"
#include "data/dataset.h"
#include "text/tokenizer.h"

namespace ft::cli {
namespace {

struct TokenizeArgs {
  std::string tokenizer, input, column = "document", output;
  int max_length = 0;
  bool tokens = false;
};

void run_tokenize(const TokenizeArgs& a) {
  const auto tok = text::Tokenizer::from_dir(a.tokenizer);
  const auto rows = data::read_text_column(a.input, a.column);
  write_file_atomic(a.output, [&](std::ostream& out) {
    for (size_t i = 0; i < rows.texts.size(); ++i) {
      std::vector<int64_t> ids;
      try {
        ids = tok.encode(rows.texts[i], a.max_length);
      } catch (const Error& e) {
        throw Error(a.input + ":" + std::to_string(rows.lines[i]) + ": " + e.what());
      }
      nlohmann::json row = {{"input_ids", ids}};
      if (a.tokens) {
        auto& tokens = row["tokens"] = nlohmann::json::array();
        for (int64_t id : ids) tokens.push_back(tok.id_to_token(id));
      }
      out << row.dump() << '\n';
    }
  });
}

}  // namespace

void add_tokenize_command(CLI::App& app) {
  auto* cmd = app.add_subcommand("tokenize", "Turn texts into token ids with a BERT WordPiece tokenizer");
  auto args = std::make_shared<TokenizeArgs>();
  cmd->add_option("--tokenizer", args->tokenizer, "Tokenizer directory (tokenizer.json or vocab.txt)")->required();
  cmd->add_option("--input", args->input, "TSV with a header row, or a text file with one text per line")
      ->required();
  cmd->add_option("--column", args->column, "TSV column holding the text")->capture_default_str();
  cmd->add_option("--max-length", args->max_length, "Truncate to this many ids including [CLS]/[SEP] (0: none)")
      ->check(CLI::NonNegativeNumber);
  cmd->add_flag("--tokens", args->tokens, "Also write the token strings");
  cmd->add_option("--output", args->output, "Output JSONL file (written atomically)")->required();
  cmd->callback([args] { run_tokenize(*args); });
}

}  // namespace ft::cli
