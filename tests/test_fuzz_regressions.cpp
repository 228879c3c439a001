// Inputs that crashed a reader, tripped a sanitizer or made it allocate what the file declared,
// found by the fuzzers (fuzz/, scripts/fuzz.sh) or while writing them, kept under tests/data/fuzz/.
// Each must now fail with a one-line ft::Error that names the file and what is wrong.
#include <gtest/gtest.h>

#include <string>

#include "core/error.h"
#include "core/files.h"
#include "io/peft_adapter.h"
#include "io/state_dict.h"
#include "model/config.h"
#include "text/tokenizer.h"

namespace {

const std::string kData = std::string(FT_SOURCE_DIR) + "/tests/data/fuzz/";

template <class F>
void expect_error(F&& f, const std::string& file, const std::string& what) {
  try {
    f();
    ADD_FAILURE() << "expected an ft::Error for " << file;
  } catch (const ft::Error& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find(file), std::string::npos) << msg;
    EXPECT_NE(msg.find(what), std::string::npos) << msg;
    EXPECT_EQ(msg.find('\n'), std::string::npos) << msg;
  }
}

// nlohmann throws out_of_range, not parse_error, for a number past a double's range.
TEST(FuzzRegressions, JsonNumberOutOfRange) {
  const std::string path = kData + "config_number_overflow.json";
  expect_error([&] { ft::read_json(path); }, path, "number overflow parsing '1e400'");
}

// A flag of the wrong type made json::value() throw a type_error.
TEST(FuzzRegressions, AdapterConfigFlagOfWrongType) {
  const std::string dir = kData + "adapter_null_flag";
  expect_error([&] { ft::io::read_adapter_config(dir); }, dir + "/adapter_config.json", "must be boolean, but is null");
}

TEST(FuzzRegressions, AdapterConfigRankAndDropoutRanges) {
  const auto parse = [](const char* text) { return ft::io::adapter_config_from_json(nlohmann::json::parse(text), "a.json"); };
  const std::string base = R"("peft_type": "LORA", "lora_alpha": 16, "target_modules": ["query"])";
  // 1e30 as an int was undefined behaviour; 2^32 + 1 wrapped to a rank of 1.
  for (const char* r : {"1e30", "4294967297", "0", "-1", "1.5"})
    expect_error([&] { parse(("{" + base + R"(, "r": )" + r + "}").c_str()); }, "a.json", "r must be a positive integer");
  expect_error([&] { parse(("{" + base + R"(, "r": 8, "lora_dropout": 2})").c_str()); }, "a.json", "lora_dropout");
  EXPECT_EQ(parse(("{" + base + R"(, "r": 8})").c_str()).r, 8);
}

// num_labels named LABEL_0..LABEL_{n-1} one by one: 2^63 - 1 ran out of memory.
TEST(FuzzRegressions, ConfigHugeNumLabels) {
  const std::string path = kData + "config_num_labels.json";
  expect_error([&] { ft::model::ModelConfig::from_json(ft::read_json(path), path); }, path, "'num_labels' is over");
}

TEST(FuzzRegressions, ConfigId2LabelNamesAnIdTwice) {
  const auto j = nlohmann::json::parse(R"({"model_type": "bert", "vocab_size": 10, "hidden_size": 4,
      "num_hidden_layers": 1, "num_attention_heads": 1, "intermediate_size": 4, "id2label": {"0": "a", "00": "b"}})");
  expect_error([&] { ft::model::ModelConfig::from_json(j, "c.json"); }, "c.json", "bad entry \"00\"");
}

// Float-to-int conversions out of range (undefined behaviour, caught by UBSan).
TEST(FuzzRegressions, TokenizerNumbersOutOfIntRange) {
  expect_error([&] { ft::text::Tokenizer::from_dir(kData + "tokenizer_model_max_length"); },
               "tokenizer_config.json", "'model_max_length' must be a positive number");
  expect_error([&] { ft::text::Tokenizer::from_dir(kData + "tokenizer_max_chars"); }, "tokenizer.json",
               "max_input_chars_per_word must be a positive integer");
  expect_error([&] { ft::text::Tokenizer::from_dir(kData + "tokenizer_vocab_id"); }, "tokenizer.json",
               "model.vocab id of 'a' is not an integer");
}

// libtorch's in-memory zip reader copied past the end of the buffer (ASan heap-buffer-overflow).
TEST(FuzzRegressions, TorchBinCorruptZipDirectory) {
  const std::string path = kData + "torch_bin_zip_overread.bin";
  expect_error([&] { ft::io::read_torch_bin(path); }, path, "no zip end of central directory record");
}

// libtorch's unpickler reserved the 4 GB a string declared (libFuzzer: out of memory).
TEST(FuzzRegressions, TorchBinStringLongerThanFile) {
  const std::string fuzzed = kData + "torch_bin_string_length_fuzzed.bin";
  expect_error([&] { ft::io::read_torch_bin(fuzzed); }, fuzzed, "is compressed");
  const std::string path = kData + "torch_bin_string_length.bin";
  expect_error([&] { ft::io::read_torch_bin(path); }, path, "data.pkl at byte 11: string runs past the end");
}

// A zip that is not a torch.save archive made libtorch's reader throw from its constructor, leaking
// its state (LeakSanitizer); such archives now fail before libtorch sees them.
TEST(FuzzRegressions, TorchBinNotTorchSave) {
  const std::string path = kData + "torch_bin_not_torch_save.bin";
  expect_error([&] { ft::io::read_torch_bin(path); }, path, "has no local header");
}

// libtorch sizes a storage by the element count the pickle declares, whatever its record holds:
// this [20, 30] tensor would have read 2,400 bytes from a 24-byte record.
TEST(FuzzRegressions, TorchBinStorageLargerThanRecord) {
  const std::string path = kData + "torch_bin_storage_too_small.bin";
  expect_error([&] { ft::io::read_torch_bin(path); }, path, "storage '0' declares 600 elements but its record holds 24 bytes");
}

// libtorch 1.13 sets a pickled tensor's offset, sizes and strides unchecked: this [2, 3] view starts at
// element 5 of a 6-element storage, and copying it read past the record.
TEST(FuzzRegressions, TorchBinViewOutsideStorage) {
  const std::string path = kData + "torch_bin_view_outside_storage.bin";
  expect_error([&] { ft::io::read_torch_bin(path); }, path, "'classifier.weight' lies outside its storage");
}

// The checks above accept what torch.save writes: the fuzzer's seed, built by fuzz/make_seeds.py.
TEST(FuzzRegressions, TorchBinSeedLoads) {
  const ft::io::TensorMap m = ft::io::read_torch_bin(std::string(FT_SOURCE_DIR) + "/fuzz/corpus/torch_bin/two_tensors.bin");
  ASSERT_EQ(m.size(), 2u);
  EXPECT_TRUE(m.at("classifier.weight").equal(torch::full({2, 3}, 0.25)));
  EXPECT_TRUE(m.at("classifier.bias").equal(torch::tensor({0.0f, 1.0f})));
}

}  // namespace
