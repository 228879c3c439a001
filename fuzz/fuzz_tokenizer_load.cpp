// Tokenizer loading on arbitrary files, then encoding with what was loaded. The input is up to five
// parts separated by the line "@@@" (kSeparator): vocab.txt, tokenizer.json, tokenizer_config.json,
// special_tokens_map.json and a text to encode; an empty part leaves that file out. The files go
// to a directory on tmpfs because Tokenizer::from_dir reads a directory, as the CLI does.
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "core/error.h"
#include "core/files.h"
#include "text/tokenizer.h"

namespace {

constexpr std::string_view kSeparator = "\n@@@\n";
const char* const kFiles[] = {"vocab.txt", "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json"};
std::string g_dir;

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  g_dir = (ft::dir_exists("/dev/shm") ? "/dev/shm" : "/tmp") + std::string("/ft_fuzz_tokenizer_") +
          std::to_string(::getpid());
  ft::make_dirs(g_dir);
  std::atexit([] { ft::remove_tree(g_dir); });
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view rest(reinterpret_cast<const char*>(data), size);
  std::string_view parts[5];
  for (size_t i = 0; i < 5 && !rest.empty(); ++i) {
    const size_t end = i < 4 ? rest.find(kSeparator) : std::string_view::npos;
    parts[i] = rest.substr(0, end);
    rest = end == std::string_view::npos ? std::string_view() : rest.substr(end + kSeparator.size());
  }
  for (size_t i = 0; i < 4; ++i) {
    const std::string path = ft::join_path(g_dir, kFiles[i]);
    if (parts[i].empty())
      ::unlink(path.c_str());
    else
      ft::write_file_atomic(path, std::string(parts[i]));
  }
  try {
    const ft::text::Tokenizer tok = ft::text::Tokenizer::from_dir(g_dir);
    const std::vector<int64_t> ids = tok.encode(std::string(parts[4]));
    for (int64_t id : ids)
      if (id < 0 || id >= static_cast<int64_t>(tok.vocab_size())) __builtin_trap();
  } catch (const ft::Error&) {
  }
  return 0;
}
