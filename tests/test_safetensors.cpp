#include <gtest/gtest.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/files.h"
#include "io/state_dict.h"
#include "test_util.h"

namespace {
namespace fs = std::filesystem;
using ft::io::TensorMap;

using ft::testing::data_path;

// A fresh directory per test, removed afterwards.
struct TempDir : ft::testing::TempDir {
  TempDir() : ft::testing::TempDir("io") {}
  std::string file(const std::string& name) const { return ft::join_path(path, name); }
  size_t count() const { return ft::list_dir(path).size(); }
};

bool same_bytes(const torch::Tensor& a, const torch::Tensor& b) {
  if (a.scalar_type() != b.scalar_type() || a.sizes() != b.sizes()) return false;
  const torch::Tensor ca = a.contiguous(), cb = b.contiguous();
  // An empty tensor may have no storage at all: memcmp must not see its null pointer (UBSan).
  return ca.nbytes() == 0 || std::memcmp(ca.data_ptr(), cb.data_ptr(), ca.nbytes()) == 0;
}

void expect_same(const TensorMap& a, const TensorMap& b) {
  ASSERT_EQ(a.size(), b.size());
  for (auto ia = a.begin(), ib = b.begin(); ia != a.end(); ++ia, ++ib) {
    ASSERT_EQ(ia->first, ib->first);
    EXPECT_TRUE(same_bytes(ia->second, ib->second)) << ia->first;
  }
}

// A safetensors file from a raw header and data section; the header is padded like the writer does.
std::string make_file(const TempDir& dir, std::string header, size_t data_bytes) {
  header.append((8 - header.size() % 8) % 8, ' ');
  std::string bytes(8, '\0');
  for (size_t i = 0, n = header.size(); i < 8; ++i, n >>= 8) bytes[i] = static_cast<char>(n & 0xff);
  bytes += header + std::string(data_bytes, '\x01');
  const std::string path = dir.file("t.safetensors");
  ft::write_file_atomic(path, bytes);
  return path;
}

// Runs `f`, which must throw an ft::Error mentioning every one of `parts`.
template <class F>
void expect_error(F&& f, const std::vector<std::string>& parts) {
  try {
    f();
    ADD_FAILURE() << "expected an ft::Error mentioning " << parts.front();
  } catch (const ft::Error& e) {
    for (const std::string& p : parts) EXPECT_NE(std::string(e.what()).find(p), std::string::npos) << e.what();
  }
}

void expect_bad_safetensors(const std::string& path, const std::vector<std::string>& parts) {
  std::vector<std::string> all = parts;
  all.push_back(path);
  expect_error([&] { ft::io::read_safetensors(path); }, all);
  expect_error([&] { ft::io::read_safetensors_metadata(path); }, all);
}

TEST(Safetensors, ReadsGoldenModel) {
  const TensorMap m = ft::io::read_safetensors(data_path("hf-tiny/model.safetensors"));
  EXPECT_EQ(m.size(), 42u);
  const torch::Tensor& emb = m.at("roberta.embeddings.word_embeddings.weight");
  EXPECT_EQ(emb.scalar_type(), torch::kFloat);
  EXPECT_EQ(emb.sizes(), torch::IntArrayRef({1000, 64}));
  const torch::Tensor& pos = m.at("roberta.embeddings.position_ids");
  EXPECT_EQ(pos.scalar_type(), torch::kLong);
  EXPECT_TRUE(torch::equal(pos, torch::arange(66, torch::kLong).view({1, 66})));
  for (const auto& [name, t] : m) {
    EXPECT_TRUE(t.is_contiguous()) << name;
    EXPECT_TRUE(t.device().is_cpu()) << name;
  }
}

TEST(Safetensors, RoundTripEveryDtype) {
  TempDir dir;
  torch::manual_seed(0);
  const torch::Tensor f = torch::randn({3, 5});
  const TensorMap in = {
      {"f32", f},
      {"f64", torch::randn({7}, torch::kDouble)},
      {"f16", f.to(torch::kHalf)},
      {"bf16", f.to(torch::kBFloat16)},
      {"i64", torch::tensor({std::numeric_limits<int64_t>::min(), int64_t{-1}, int64_t{1} << 40})},
      {"i32", torch::randint(-1000, 1000, {2, 3}, torch::kInt)},
      {"i16", torch::randint(-1000, 1000, {3}, torch::kShort)},
      {"i8", torch::randint(-128, 127, {5}, torch::kChar)},
      {"u8", torch::randint(0, 255, {9}, torch::kByte)},
      {"bool", torch::rand({4}) > 0.5},
      {"empty", torch::empty({0, 3})},
      {"scalar", torch::tensor(2.5)},
      {"transposed", f.t()},  // not contiguous: must be written in logical order
  };
  const std::map<std::string, std::string> meta = {{"format", "pt"}, {"note", "한국어 \"quoted\""}};
  const std::string path = dir.file("all.safetensors");
  ft::io::write_safetensors(path, in, meta);

  expect_same(ft::io::read_safetensors(path), in);
  EXPECT_EQ(ft::io::read_safetensors_metadata(path), meta);
  EXPECT_EQ(dir.count(), 1u);  // no temporary left behind
}

TEST(Safetensors, WriterAlignsHeaderAndData) {
  TempDir dir;
  const std::string path = dir.file("a.safetensors");
  // An odd-sized U8 tensor that sorts first by name would misalign everything after it.
  ft::io::write_safetensors(path, {{"a", torch::ones({3}, torch::kByte)},
                                   {"b", torch::ones({1}, torch::kHalf)},
                                   {"c", torch::ones({2}, torch::kDouble)},
                                   {"d", torch::ones({1}, torch::kFloat)}});
  const std::string bytes = ft::read_file(path);
  uint64_t n = 0;
  std::memcpy(&n, bytes.data(), 8);
  EXPECT_EQ(n % 8, 0u);
  const std::string header = bytes.substr(8, n);
  EXPECT_EQ(header[header.find_last_not_of(' ')], '}');  // padded with spaces only
  const auto j = nlohmann::json::parse(header);
  const std::map<std::string, uint64_t> size = {{"a", 1}, {"b", 2}, {"c", 8}, {"d", 4}};
  for (const auto& [name, s] : size) EXPECT_EQ(j[name]["data_offsets"][0].get<uint64_t>() % s, 0u) << name;
  EXPECT_EQ(j.count("__metadata__"), 0u);
}

TEST(Safetensors, GoldensSurviveRewrite) {
  TempDir dir;
  for (const char* name : {"model.safetensors", "inputs.safetensors", "outputs.safetensors", "grads.safetensors",
                           "lora/adapter_model.safetensors"}) {
    const std::string src = data_path(std::string("hf-tiny/") + name);
    const std::string copy = dir.file("copy.safetensors");
    const TensorMap original = ft::io::read_safetensors(src);
    ft::io::write_safetensors(copy, original, ft::io::read_safetensors_metadata(src));
    expect_same(ft::io::read_safetensors(copy), original);
    EXPECT_EQ(ft::io::read_safetensors_metadata(copy), ft::io::read_safetensors_metadata(src)) << name;
  }
}

TEST(StateDict, TorchBinMatchesSafetensors) {
  const TensorMap bin = ft::io::read_torch_bin(data_path("hf-tiny/lora/peft_adapter/adapter_model.bin"));
  const TensorMap st = ft::io::read_safetensors(data_path("hf-tiny/lora/adapter_model.safetensors"));
  EXPECT_EQ(bin.size(), 12u);
  expect_same(bin, st);
  for (const auto& [name, t] : bin) EXPECT_TRUE(t.is_contiguous()) << name;
  expect_same(ft::io::read_state_dict(data_path("hf-tiny/lora/peft_adapter/adapter_model.bin")), st);
  expect_same(ft::io::read_state_dict(data_path("hf-tiny/lora/adapter_model.safetensors")), st);
}

TEST(StateDict, RejectsBadFiles) {
  TempDir dir;
  const std::string text = dir.file("text.bin");
  ft::write_file_atomic(text, std::string("hello, not a zip"));
  expect_error([&] { ft::io::read_torch_bin(text); }, {text, "zip"});
  const std::string missing = dir.file("missing.bin");
  expect_error([&] { ft::io::read_torch_bin(missing); }, {missing});
  const std::string other = dir.file("model.pt");
  expect_error([&] { ft::io::read_state_dict(other); }, {other, ".safetensors"});
}

TEST(StateDict, RejectsTruncatedZip) {
  TempDir dir;
  const std::string bytes = ft::read_file(data_path("hf-tiny/lora/peft_adapter/adapter_model.bin"));
  const std::string path = dir.file("half.bin");
  ft::write_file_atomic(path, bytes.substr(0, bytes.size() / 2));
  expect_error([&] { ft::io::read_torch_bin(path); }, {path});
}

TEST(Safetensors, RejectsMissingAndTruncatedFiles) {
  TempDir dir;
  expect_bad_safetensors(dir.file("missing.safetensors"), {"cannot open"});
  expect_bad_safetensors(dir.path, {"directory"});

  const std::string tiny = dir.file("tiny.safetensors");
  ft::write_file_atomic(tiny, std::string("\x10\0\0", 3));
  expect_bad_safetensors(tiny, {"too short"});
}

TEST(Safetensors, RejectsTruncatedGolden) {
  TempDir dir;
  const std::string bytes = ft::read_file(data_path("hf-tiny/model.safetensors"));
  const std::string half = dir.file("half.safetensors");
  ft::write_file_atomic(half, bytes.substr(0, bytes.size() / 2));
  expect_bad_safetensors(half, {"run past the data section"});
  const std::string in_header = dir.file("in_header.safetensors");
  ft::write_file_atomic(in_header, bytes.substr(0, 100));
  expect_bad_safetensors(in_header, {"runs past the end of the file"});
}

TEST(Safetensors, RejectsBadHeaderLength) {
  TempDir dir;
  const std::string path = dir.file("len.safetensors");
  ft::write_file_atomic(path, std::string("\xe8\x03\0\0\0\0\0\0{}      ", 16));  // claims 1000 bytes
  expect_bad_safetensors(path, {"runs past the end of the file"});
  ft::write_file_atomic(path, std::string("\0\0\0\0\0\0\0\x80{}      ", 16));  // claims 2^63 bytes
  expect_bad_safetensors(path, {"100 MB"});
}

TEST(Safetensors, RejectsBadHeaderJson) {
  TempDir dir;
  expect_bad_safetensors(make_file(dir, "{\"a\": {\"dtype\": ", 0), {"not valid JSON"});
  expect_bad_safetensors(make_file(dir, "[1, 2]", 0), {"not a JSON object"});
  expect_bad_safetensors(make_file(dir, "{\"__metadata__\": {\"k\": 1}}", 0), {"__metadata__", "'k'"});
  expect_bad_safetensors(make_file(dir, R"({"a":{"dtype":"F32","shape":[],"data_offsets":[0,4]},)"
                                        R"("a":{"dtype":"F32","shape":[],"data_offsets":[0,4]}})",
                                   4),
                         {"'a' twice"});
  expect_bad_safetensors(make_file(dir, R"({"a":[1]})", 0), {"'a'", "not an object"});
}

TEST(Safetensors, RejectsBadTensorEntries) {
  TempDir dir;
  const auto entry = [&](const std::string& name, const std::string& dtype, const std::string& shape,
                         const std::string& offsets) {
    return "\"" + name + "\":{\"dtype\":\"" + dtype + "\",\"shape\":" + shape + ",\"data_offsets\":" + offsets + "}";
  };
  const auto file = [&](const std::vector<std::string>& entries, size_t data_bytes) {
    std::string h = "{";
    for (size_t i = 0; i < entries.size(); ++i) h += (i ? "," : "") + entries[i];
    return make_file(dir, h + "}", data_bytes);
  };
  expect_bad_safetensors(file({entry("w", "F17", "[2]", "[0,8]")}, 8), {"'w'", "unknown dtype 'F17'"});
  expect_bad_safetensors(file({entry("w", "F32", "[-2]", "[0,8]")}, 8), {"'w'", "non-negative"});
  expect_bad_safetensors(file({entry("w", "F32", "[2.0]", "[0,8]")}, 8), {"'w'", "non-negative"});
  expect_bad_safetensors(file({entry("w", "F32", "2", "[0,8]")}, 8), {"'w'", "shape"});
  expect_bad_safetensors(file({entry("w", "F32", "[4294967296,4294967296]", "[0,8]")}, 8), {"'w'", "overflows"});
  expect_bad_safetensors(file({entry("w", "F32", "[2]", "[8,0]")}, 8), {"'w'", "begin <= end"});
  expect_bad_safetensors(file({entry("w", "F32", "[2]", "[0]")}, 8), {"'w'", "data_offsets"});
  expect_bad_safetensors(file({entry("w", "F32", "[2]", "[0,16]")}, 8), {"'w'", "run past the data section"});
  expect_bad_safetensors(file({entry("w", "F32", "[3]", "[0,8]")}, 8), {"'w'", "needs 3 x 4 bytes"});
  expect_bad_safetensors(file({entry("a", "F32", "[2]", "[0,8]"), entry("b", "F32", "[2]", "[4,12]")}, 12),
                         {"'b'", "overlaps tensor 'a'"});
  expect_bad_safetensors(file({entry("a", "F32", "[1]", "[0,4]"), entry("b", "F32", "[1]", "[8,12]")}, 12),
                         {"'b'", "4 bytes before it belong to no tensor"});
  expect_bad_safetensors(file({entry("a", "F32", "[1]", "[0,4]")}, 8), {"4 bytes at the end"});
  // Sanity: the helpers do build valid files.
  const std::string ok = file({entry("a", "F32", "[1]", "[0,4]"), entry("e", "I64", "[0,5]", "[4,4]")}, 4);
  const TensorMap m = ft::io::read_safetensors(ok);
  EXPECT_EQ(m.at("e").sizes(), torch::IntArrayRef({0, 5}));
}

TEST(Safetensors, RefusesUnsupportedTensors) {
  TempDir dir;
  const std::string path = dir.file("x.safetensors");
  expect_error([&] { ft::io::write_safetensors(path, {{"c", torch::ones({2}, torch::kComplexFloat)}}); },
               {path, "'c'", "unsupported dtype"});
  expect_error([&] { ft::io::write_safetensors(path, {{"__metadata__", torch::ones({1})}}); }, {path, "reserved"});
  expect_error([&] { ft::io::write_safetensors(path, {{"u", torch::Tensor()}}); }, {path, "'u'", "undefined"});
  EXPECT_EQ(dir.count(), 0u);
}

TEST(Safetensors, FailedWriteLeavesNothingBehind) {
  TempDir dir;
  const std::string nested = dir.file("no/such/dir");
  expect_error([&] { ft::io::write_safetensors(nested + "/x.safetensors", {{"a", torch::ones({2})}}); },
               {nested + "/x.safetensors"});
  EXPECT_FALSE(fs::exists(dir.file("no")));
  EXPECT_EQ(dir.count(), 0u);

  // An existing file stays intact when the replacement fails.
  const std::string path = dir.file("keep.safetensors");
  const TensorMap good = {{"a", torch::arange(4, torch::kFloat)}};
  ft::io::write_safetensors(path, good);
  const std::string before = ft::read_file(path);
  EXPECT_THROW(ft::io::write_safetensors(path, {{"c", torch::ones({2}, torch::kComplexFloat)}}), ft::Error);
  EXPECT_EQ(ft::read_file(path), before);
  expect_same(ft::io::read_safetensors(path), good);
  EXPECT_EQ(dir.count(), 1u);
}

}  // namespace
