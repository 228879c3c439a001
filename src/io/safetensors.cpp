// Safetensors: 8-byte little-endian header length N, N bytes of JSON header, then the raw data.
#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <limits>
#include <nlohmann/json.hpp>
#include <set>

#include "core/error.h"
#include "core/files.h"
#include "io/state_dict.h"

// Tensor bytes go to and from the file as they sit in memory; the format is little-endian.
static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "safetensors I/O assumes a little-endian host");

namespace ft::io {
namespace {

using nlohmann::json;

// The reference implementation's limit; real headers are a few hundred kilobytes at most.
constexpr uint64_t kMaxHeaderBytes = 100'000'000;

struct Dtype {
  const char* name;
  c10::ScalarType type;
};

// In the reference implementation's order, which ranks dtypes by alignment: writing in reverse
// order of this table keeps every tensor aligned to its element size.
const Dtype kDtypes[] = {
    {"BOOL", torch::kBool},  {"U8", torch::kByte},   {"I8", torch::kChar},
    {"I16", torch::kShort},  {"F16", torch::kHalf},  {"BF16", torch::kBFloat16},
    {"I32", torch::kInt},    {"F32", torch::kFloat}, {"F64", torch::kDouble},
    {"I64", torch::kLong},
};

const Dtype* dtype_by_name(const std::string& name) {
  for (const Dtype& d : kDtypes)
    if (name == d.name) return &d;
  return nullptr;
}

const Dtype* dtype_by_type(c10::ScalarType type) {
  for (const Dtype& d : kDtypes)
    if (type == d.type) return &d;
  return nullptr;
}

struct Entry {
  std::string name;
  const Dtype* dtype;
  std::vector<int64_t> shape;
  uint64_t begin, end;  // relative to the start of the data section
};

struct Header {
  std::map<std::string, std::string> metadata;
  std::vector<Entry> entries;
  uint64_t data_start;
};

[[noreturn]] void fail(const std::string& path, const std::string& what) {
  throw Error(path + ": " + what);
}

[[noreturn]] void fail(const std::string& path, const std::string& tensor, const std::string& what) {
  fail(path, "tensor '" + tensor + "': " + what);
}

// a * b, or false on overflow.
bool mul_checked(uint64_t a, uint64_t b, uint64_t& out) {
  if (b != 0 && a > std::numeric_limits<uint64_t>::max() / b) return false;
  out = a * b;
  return true;
}

std::string shape_str(const std::vector<int64_t>& shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) s += (i ? "," : "") + std::to_string(shape[i]);
  return s + "]";
}

std::ifstream open_input(const std::string& path) {
  if (dir_exists(path)) fail(path, "is a directory, expected a file");
  std::ifstream in(path, std::ios::binary);
  if (!in) fail(path, std::string("cannot open (") + std::strerror(errno) + ")");
  return in;
}

uint64_t stream_size(std::istream& in, const std::string& path) {
  in.seekg(0, std::ios::end);
  const std::streamoff size = in.tellg();
  if (!in || size < 0) fail(path, "cannot determine the size (not a seekable file?)");
  in.seekg(0);
  return static_cast<uint64_t>(size);
}

void read_exactly(std::istream& in, void* dst, uint64_t n, const std::string& path) {
  in.read(static_cast<char*>(dst), static_cast<std::streamsize>(n));
  if (static_cast<uint64_t>(in.gcount()) != n) fail(path, "read failed (file changed while reading?)");
}

// Non-negative JSON integer that fits int64 (torch sizes are signed).
bool as_size(const json& j, uint64_t& out) {
  if (!j.is_number_unsigned()) return false;
  out = j.get<uint64_t>();
  return out <= static_cast<uint64_t>(std::numeric_limits<int64_t>::max());
}

Entry parse_entry(const std::string& path, const std::string& name, const json& j, uint64_t data_size) {
  if (!j.is_object()) fail(path, name, "header entry is not an object");
  Entry e{name, nullptr, {}, 0, 0};

  const auto dtype = j.find("dtype");
  if (dtype == j.end() || !dtype->is_string()) fail(path, name, "missing \"dtype\" string");
  e.dtype = dtype_by_name(dtype->get<std::string>());
  if (!e.dtype) fail(path, name, "unknown dtype '" + dtype->get<std::string>() + "'");

  const auto shape = j.find("shape");
  if (shape == j.end() || !shape->is_array()) fail(path, name, "\"shape\" is not a list");
  uint64_t numel = 1;
  for (const json& d : *shape) {
    uint64_t dim = 0;
    if (!as_size(d, dim)) fail(path, name, "\"shape\" must hold non-negative integers, got " + shape->dump());
    if (!mul_checked(numel, dim, numel)) fail(path, name, "shape " + shape->dump() + " overflows");
    e.shape.push_back(static_cast<int64_t>(dim));
  }

  const auto offsets = j.find("data_offsets");
  if (offsets == j.end() || !offsets->is_array() || offsets->size() != 2 || !as_size((*offsets)[0], e.begin) ||
      !as_size((*offsets)[1], e.end) || e.begin > e.end)
    fail(path, name, "\"data_offsets\" must be [begin, end] with 0 <= begin <= end");
  if (e.end > data_size)
    fail(path, name, "data_offsets " + offsets->dump() + " run past the data section (" +
                         std::to_string(data_size) + " bytes)");

  uint64_t nbytes = 0;
  const uint64_t elem = c10::elementSize(e.dtype->type);
  if (!mul_checked(numel, elem, nbytes) || nbytes != e.end - e.begin)
    fail(path, name, "data_offsets span " + std::to_string(e.end - e.begin) + " bytes but " + e.dtype->name +
                         " " + shape_str(e.shape) + " needs " + std::to_string(numel) + " x " +
                         std::to_string(elem) + " bytes");
  return e;
}

// Like the reference implementation, the tensors must tile the data section: no overlaps, no
// holes, no trailing bytes.
void check_tiling(const std::string& path, std::vector<Entry>& entries, uint64_t data_size) {
  std::sort(entries.begin(), entries.end(),
            [](const Entry& a, const Entry& b) { return std::tie(a.begin, a.end) < std::tie(b.begin, b.end); });
  uint64_t cursor = 0;
  const Entry* prev = nullptr;
  for (const Entry& e : entries) {
    if (e.begin < cursor) fail(path, e.name, "data overlaps tensor '" + prev->name + "'");
    if (e.begin > cursor)
      fail(path, e.name, std::to_string(e.begin - cursor) + " bytes before it belong to no tensor");
    cursor = e.end;
    prev = &e;
  }
  if (cursor != data_size)
    fail(path, std::to_string(data_size - cursor) + " bytes at the end of the data section belong to no tensor");
}

Header read_header(std::istream& in, const std::string& path) {
  const uint64_t file_size = stream_size(in, path);
  if (file_size < 8) fail(path, "too short for a safetensors file (" + std::to_string(file_size) + " bytes)");
  unsigned char len_bytes[8];
  read_exactly(in, len_bytes, 8, path);
  uint64_t n = 0;
  for (int i = 7; i >= 0; --i) n = (n << 8) | len_bytes[i];
  if (n > kMaxHeaderBytes) fail(path, "header length " + std::to_string(n) + " is over the 100 MB limit");
  if (n > file_size - 8)
    fail(path, "header length " + std::to_string(n) + " runs past the end of the file (" +
                   std::to_string(file_size) + " bytes)");

  std::string text(n, '\0');
  read_exactly(in, text.data(), n, path);

  // nlohmann keeps the last of duplicate keys silently; the format forbids duplicates.
  std::string duplicate;
  std::set<std::string> seen;
  json::parser_callback_t note_keys = [&](int depth, json::parse_event_t event, json& parsed) {
    if (event == json::parse_event_t::key && depth == 1 && !seen.insert(parsed.get<std::string>()).second)
      duplicate = parsed.get<std::string>();
    return true;
  };
  json j;
  try {
    j = json::parse(text, note_keys);
  } catch (const json::exception& e) {
    fail(path, std::string("header is not valid JSON (") + e.what() + ")");
  }
  if (!j.is_object()) fail(path, "header is not a JSON object");
  if (!duplicate.empty()) fail(path, "header has the key '" + duplicate + "' twice");

  Header h{{}, {}, 8 + n};
  const uint64_t data_size = file_size - h.data_start;
  for (const auto& [key, value] : j.items()) {
    if (key != "__metadata__") {
      h.entries.push_back(parse_entry(path, key, value, data_size));
      continue;
    }
    if (!value.is_object()) fail(path, "\"__metadata__\" is not an object");
    for (const auto& [mk, mv] : value.items()) {
      if (!mv.is_string()) fail(path, "\"__metadata__\" value for '" + mk + "' is not a string");
      h.metadata[mk] = mv.get<std::string>();
    }
  }
  check_tiling(path, h.entries, data_size);
  return h;
}

void put_u64_le(std::ostream& out, uint64_t v) {
  char bytes[8];
  for (char& b : bytes) {
    b = static_cast<char>(v & 0xff);
    v >>= 8;
  }
  out.write(bytes, 8);
}

}  // namespace

TensorMap read_safetensors(const std::string& path) {
  std::ifstream in = open_input(path);
  return read_safetensors(in, path);
}

TensorMap read_safetensors(std::istream& in, const std::string& path) {
  const Header h = read_header(in, path);
  TensorMap out;
  for (const Entry& e : h.entries) {
    torch::Tensor t;
    try {
      t = torch::empty(e.shape, torch::TensorOptions().dtype(e.dtype->type));
    } catch (const c10::Error& err) {
      fail(path, e.name, std::string("cannot allocate (") + err.what_without_backtrace() + ")");
    }
    in.seekg(static_cast<std::streamoff>(h.data_start + e.begin));
    read_exactly(in, t.data_ptr(), e.end - e.begin, path);
    out.emplace(e.name, std::move(t));
  }
  return out;
}

std::map<std::string, std::string> read_safetensors_metadata(const std::string& path) {
  std::ifstream in = open_input(path);
  return read_header(in, path).metadata;
}

void write_safetensors(const std::string& path, const TensorMap& tensors,
                       const std::map<std::string, std::string>& metadata) {
  struct Item {
    const std::string* name;
    const Dtype* dtype;
    torch::Tensor data;
  };
  std::vector<Item> items;
  for (const auto& [name, t] : tensors) {
    if (name == "__metadata__") fail(path, name, "this name is reserved for the metadata");
    if (!t.defined()) fail(path, name, "undefined tensor");
    if (t.layout() != torch::kStrided) fail(path, name, "only dense tensors can be saved");
    const Dtype* dtype = dtype_by_type(t.scalar_type());
    if (!dtype) fail(path, name, std::string("unsupported dtype ") + c10::toString(t.scalar_type()));
    items.push_back({&name, dtype, t.detach().to(torch::kCPU).contiguous()});
  }
  // Stricter alignment (later in kDtypes) first; stable, so names stay sorted within a dtype.
  std::stable_sort(items.begin(), items.end(), [](const Item& a, const Item& b) { return a.dtype > b.dtype; });

  json header = json::object();
  if (!metadata.empty()) header["__metadata__"] = metadata;
  uint64_t offset = 0;
  for (const Item& it : items) {
    const uint64_t end = offset + it.data.nbytes();
    header[*it.name] = {{"dtype", it.dtype->name}, {"shape", it.data.sizes().vec()}, {"data_offsets", {offset, end}}};
    offset = end;
  }
  std::string text = header.dump();
  text.append((8 - text.size() % 8) % 8, ' ');

  write_file_atomic(path, [&](std::ostream& out) {
    put_u64_le(out, text.size());
    out.write(text.data(), static_cast<std::streamsize>(text.size()));
    for (const Item& it : items)
      out.write(static_cast<const char*>(it.data.data_ptr()), static_cast<std::streamsize>(it.data.nbytes()));
  });
}

}  // namespace ft::io
