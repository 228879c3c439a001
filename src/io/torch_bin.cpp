// State dicts saved by Python's torch.save, loaded through libtorch's unpickler, which rebuilds
// only the types it knows instead of running arbitrary Python like torch.load does.
#include <caffe2/serialize/inline_container.h>
#include <torch/csrc/jit/serialization/import_read.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <map>
#include <memory>
#include <string_view>
#include <vector>

#include "core/error.h"
#include "core/files.h"
#include "io/state_dict.h"

namespace ft::io {
namespace {

// libtorch's in-memory reader copies whatever byte range the zip reader asks for, past the end of the
// buffer too, which a corrupt archive makes it ask; this one reads only what is there (a short read
// fails the archive).
class BoundedReader : public caffe2::serialize::ReadAdapterInterface {
 public:
  explicit BoundedReader(const std::vector<char>& bytes) : bytes_(bytes) {}
  size_t size() const override { return bytes_.size(); }
  size_t read(uint64_t pos, void* buf, size_t n, const char*) const override {
    if (pos >= bytes_.size()) return 0;
    n = static_cast<size_t>(std::min<uint64_t>(n, bytes_.size() - pos));
    std::memcpy(buf, bytes_.data() + pos, n);
    return n;
  }

 private:
  const std::vector<char>& bytes_;
};

// libtorch 1.13 trusts what an archive declares: its zip reader allocates a record's declared size,
// its unpickler the length a string declares, pops from empty stacks on malformed programs, grows
// its memo to any index, and sizes a tensor's storage by the element count the pickle declares,
// whatever the record holds. So the archive is checked first against what torch.save writes: stored
// records inside the file, and a pickle program whose stack use, memo and storages add up.

[[noreturn]] void fail(const std::string& path, const std::string& what) { throw Error(path + ": " + what); }

// Little-endian fields at an offset, bounds-checked against the file.
struct Bytes {
  const std::vector<char>& data;
  const std::string& path;

  uint64_t get(uint64_t at, int width) const {
    if (at > data.size() || static_cast<uint64_t>(width) > data.size() - at)
      fail(path, "zip structure runs past the end of the file");
    uint64_t v = 0;
    for (int i = width - 1; i >= 0; --i) v = (v << 8) | static_cast<unsigned char>(data[at + i]);
    return v;
  }
  bool has(uint64_t at, const char* sig) const { return get(at, 4) == get_sig(sig); }
  static uint64_t get_sig(const char* sig) {
    uint64_t v = 0;
    for (int i = 3; i >= 0; --i) v = (v << 8) | static_cast<unsigned char>(sig[i]);
    return v;
  }
};

struct Record {
  uint64_t begin, size;  // the record's bytes within the file
};

// Name -> bytes of every record, from the central directory (zip64 included); the first record's
// folder is the archive's name, as libtorch takes it.
std::map<std::string, Record> zip_records(const Bytes& b, std::string& folder) {
  const uint64_t size = b.data.size();
  if (size < 22) fail(b.path, "too short for a zip archive");
  uint64_t eocd = size - 22;  // end of central directory record; a comment may follow it
  while (!b.has(eocd, "PK\x05\x06")) {
    if (eocd == 0 || size - eocd > 22 + 0xFFFF) fail(b.path, "no zip end of central directory record");
    --eocd;
  }
  uint64_t count = b.get(eocd + 10, 2), dir_size = b.get(eocd + 12, 4), dir = b.get(eocd + 16, 4);
  if (count == 0xFFFF || dir_size == 0xFFFFFFFF || dir == 0xFFFFFFFF) {
    if (eocd < 20 || !b.has(eocd - 20, "PK\x06\x07")) fail(b.path, "zip64 locator missing");
    const uint64_t eocd64 = b.get(eocd - 20 + 8, 8);
    if (!b.has(eocd64, "PK\x06\x06")) fail(b.path, "zip64 end of central directory record missing");
    count = b.get(eocd64 + 32, 8);
    dir_size = b.get(eocd64 + 40, 8);
    dir = b.get(eocd64 + 48, 8);
  }
  if (dir > size || dir_size > size - dir) fail(b.path, "zip central directory lies outside the file");

  std::map<std::string, Record> records;
  uint64_t at = dir;
  for (uint64_t i = 0; i < count; ++i) {
    if (!b.has(at, "PK\x01\x02")) fail(b.path, "zip central directory entry " + std::to_string(i) + " is corrupt");
    const uint64_t method = b.get(at + 10, 2), name_len = b.get(at + 28, 2), extra_len = b.get(at + 30, 2);
    uint64_t packed = b.get(at + 20, 4), unpacked = b.get(at + 24, 4), local = b.get(at + 42, 4);
    if (at + 46 + name_len > size) fail(b.path, "zip entry name runs past the end of the file");
    const std::string name(b.data.data() + at + 46, name_len);
    // Zip64: the 32-bit fields that overflowed are in the extra field 0x0001, in this order.
    for (uint64_t x = at + 46 + name_len, end = x + extra_len; x + 4 <= end;) {
      const uint64_t id = b.get(x, 2), len = b.get(x + 2, 2);
      uint64_t field = x + 4;
      if (id == 1)
        for (uint64_t* v : {&unpacked, &packed, &local})
          if (*v == 0xFFFFFFFF && field + 8 <= x + 4 + len) {
            *v = b.get(field, 8);
            field += 8;
          }
      x += 4 + len;
    }
    if (method != 0 || packed != unpacked) fail(b.path, "zip record '" + name + "' is compressed (torch.save stores records)");
    if (!b.has(local, "PK\x03\x04")) fail(b.path, "zip record '" + name + "' has no local header");
    const uint64_t begin = local + 30 + b.get(local + 26, 2) + b.get(local + 28, 2);
    if (begin > size || unpacked > size - begin) fail(b.path, "zip record '" + name + "' runs past the end of the file");
    if (i == 0) {
      const size_t slash = name.find('/');
      if (slash == std::string::npos) fail(b.path, "zip record '" + name + "' is not in the archive's folder");
      folder = name.substr(0, slash + 1);
    }
    if (!records.emplace(name, Record{begin, unpacked}).second) fail(b.path, "zip record '" + name + "' appears twice");
    at += 46 + name_len + extra_len + b.get(at + 32, 2);
  }
  return records;
}

// Bytes per element of the storage classes torch.save names.
int64_t storage_element_size(std::string_view global) {
  static const std::map<std::string, int64_t, std::less<>> sizes = {
      {"torch\nFloatStorage", 4}, {"torch\nDoubleStorage", 8}, {"torch\nHalfStorage", 2},
      {"torch\nBFloat16Storage", 2}, {"torch\nLongStorage", 8}, {"torch\nIntStorage", 4},
      {"torch\nShortStorage", 2}, {"torch\nCharStorage", 1}, {"torch\nByteStorage", 1},
      {"torch\nBoolStorage", 1}};
  const auto it = sizes.find(global);
  return it == sizes.end() ? 0 : it->second;
}

// What the checker knows of a pickled value: enough to follow a storage's persistent id.
struct Value {
  enum Kind { kOther, kString, kInt, kGlobal, kTuple } kind = kOther;
  std::string_view text;  // kString; kGlobal: "module\nname" (views into the file: copies cost nothing)
  int64_t number = 0;
  std::shared_ptr<const std::vector<Value>> items;  // kTuple; shared, as memo copies are
};

// Runs the pickle program's stack discipline over the opcodes torch.save (protocol 2) writes.
void check_pickle(const Bytes& b, const Record& program, const std::map<std::string, Record>& records,
                  const std::string& folder) {
  const std::string& path = b.path;
  std::vector<Value> stack, memo;
  std::vector<size_t> marks;
  uint64_t at = program.begin;
  const uint64_t end = program.begin + program.size;
  auto bad = [&](const std::string& what) { fail(path, "data.pkl at byte " + std::to_string(at - program.begin) + ": " + what); };
  auto arg = [&](int width) {
    if (end - at < static_cast<uint64_t>(width)) bad("truncated");
    const uint64_t v = b.get(at, width);
    at += width;
    return v;
  };
  auto need = [&](size_t n) {  // n values above the innermost mark
    if (stack.size() - (marks.empty() ? 0 : marks.back()) < n) bad("stack underflow");
  };
  auto pop = [&] {
    Value v = std::move(stack.back());
    stack.pop_back();
    return v;
  };
  auto pop_mark = [&] {
    if (marks.empty()) bad("no mark to pop to");
    auto items = std::make_shared<std::vector<Value>>(stack.begin() + static_cast<long>(marks.back()), stack.end());
    stack.resize(marks.back());
    marks.pop_back();
    return items;
  };
  auto push = [&](Value::Kind kind) { stack.push_back(Value{kind, {}, 0, nullptr}); };
  auto text = [&](uint64_t len) {
    if (end - at < len) bad("string runs past the end");
    const std::string_view s(b.data.data() + at, len);
    at += len;
    return s;
  };
  auto line = [&] {  // through its '\n'
    const void* nl = std::memchr(b.data.data() + at, '\n', end - at);
    if (!nl) bad("unterminated GLOBAL");
    at = static_cast<uint64_t>(static_cast<const char*>(nl) - b.data.data()) + 1;
  };

  while (at < end) {
    const char op = b.data[at++];
    switch (op) {
      case '\x80': arg(1); break;  // PROTO
      case '.':  // STOP
        if (stack.size() != 1 || !marks.empty()) bad("STOP with " + std::to_string(stack.size()) + " values on the stack");
        return;
      case '}': case ']': case 'N': case '\x88': case '\x89': push(Value::kOther); break;
      case ')': stack.push_back(Value{Value::kTuple, {}, 0, std::make_shared<std::vector<Value>>()}); break;
      case '(': marks.push_back(stack.size()); break;
      case 't': stack.push_back(Value{Value::kTuple, {}, 0, pop_mark()}); break;
      case '\x85': case '\x86': case '\x87': {  // TUPLE1..3
        const size_t n = static_cast<size_t>(op - '\x84');
        need(n);
        auto items = std::make_shared<std::vector<Value>>(stack.end() - static_cast<long>(n), stack.end());
        stack.resize(stack.size() - n);
        stack.push_back(Value{Value::kTuple, {}, 0, items});
        break;
      }
      case 'q': case 'r': {  // BINPUT, LONG_BINPUT: the pickler numbers memo entries 0, 1, 2, ...
        const uint64_t id = arg(op == 'q' ? 1 : 4);
        need(1);
        if (id > memo.size()) bad("memo index " + std::to_string(id) + " skips entries");
        if (id == memo.size()) memo.push_back(stack.back()); else memo[id] = stack.back();
        break;
      }
      case 'h': case 'j': {  // BINGET, LONG_BINGET
        const uint64_t id = arg(op == 'h' ? 1 : 4);
        if (id >= memo.size()) bad("memo index " + std::to_string(id) + " was never stored");
        stack.push_back(memo[id]);
        break;
      }
      case 'J': stack.push_back(Value{Value::kInt, {}, static_cast<int32_t>(arg(4)), nullptr}); break;
      case 'K': stack.push_back(Value{Value::kInt, {}, static_cast<int64_t>(arg(1)), nullptr}); break;
      case 'M': stack.push_back(Value{Value::kInt, {}, static_cast<int64_t>(arg(2)), nullptr}); break;
      case '\x8a': {  // LONG1: n little-endian two's-complement bytes
        const uint64_t n = arg(1);
        if (n > 8) bad("integer wider than 64 bits");
        uint64_t v = n ? arg(static_cast<int>(n)) : 0;
        if (n > 0 && n < 8 && (v >> (8 * n - 1)) & 1) v |= ~uint64_t(0) << (8 * n);
        stack.push_back(Value{Value::kInt, {}, static_cast<int64_t>(v), nullptr});
        break;
      }
      case 'G': arg(8); push(Value::kOther); break;  // BINFLOAT
      case 'X': stack.push_back(Value{Value::kString, text(arg(4)), 0, nullptr}); break;  // BINUNICODE
      case 'c': {  // GLOBAL module\nname\n
        const uint64_t from = at;
        line();
        line();
        stack.push_back(Value{Value::kGlobal, std::string_view(b.data.data() + from, at - 1 - from), 0, nullptr});
        break;
      }
      case 'R': case '\x81': need(2); pop(); pop(); push(Value::kOther); break;  // REDUCE, NEWOBJ
      case 'b': need(2); pop(); stack.back() = Value{}; break;                   // BUILD
      case 'a': need(2); pop(); break;                                            // APPEND
      case 's': need(3); pop(); pop(); break;                                     // SETITEM
      case 'e': case 'u': {                                                       // APPENDS, SETITEMS
        const auto items = pop_mark();
        if (op == 'u' && items->size() % 2) bad("SETITEMS with an odd number of values");
        need(1);
        break;
      }
      case 'Q': {  // BINPERSID ('storage', storage class, key, location, element count)
        need(1);
        const Value id = pop();
        const auto* t = id.kind == Value::kTuple ? id.items.get() : nullptr;
        if (!t || t->size() != 5 || (*t)[0].kind != Value::kString || (*t)[0].text != "storage" ||
            (*t)[1].kind != Value::kGlobal || (*t)[2].kind != Value::kString || (*t)[4].kind != Value::kInt)
          bad("persistent id is not a storage");
        const int64_t element = storage_element_size((*t)[1].text);
        if (element == 0) bad("unsupported storage type");
        const int64_t numel = (*t)[4].number;
        const std::string key((*t)[2].text);
        const auto record = records.find(folder + "data/" + key);
        const uint64_t have = record == records.end() ? 0 : record->second.size;
        // An empty storage reads no record.
        if (numel != 0 && (numel < 0 || have % element != 0 || static_cast<uint64_t>(numel) != have / element))
          bad("storage '" + key + "' declares " + std::to_string(numel) +
                              " elements but its record holds " + std::to_string(have) + " bytes");
        push(Value::kOther);
        break;
      }
      default: {
        char hex[8];
        std::snprintf(hex, sizeof hex, "0x%02x", static_cast<unsigned char>(op));
        --at;
        bad(std::string("unsupported pickle opcode ") + hex);
      }
    }
  }
  bad("no STOP opcode");
}

// The pickle's sizes and strides (libtorch 1.13 sets them unchecked) must address only the tensor's
// storage, and the tensor may hold no more elements than the storage: copying it allocates them all.
bool view_in_storage(const torch::Tensor& t) {
  if (t.storage_offset() < 0) return false;
  const uint64_t storage_bytes = t.storage().nbytes(), element = static_cast<uint64_t>(t.element_size());
  uint64_t numel = 1, last = static_cast<uint64_t>(t.storage_offset());  // last: the last element addressed
  for (int64_t d = 0; d < t.dim(); ++d) {
    const int64_t size = t.size(d), stride = t.stride(d);
    uint64_t span = 0;
    if (size < 0 || stride < 0 || __builtin_mul_overflow(numel, static_cast<uint64_t>(size), &numel)) return false;
    if (size > 0 && (__builtin_mul_overflow(static_cast<uint64_t>(size - 1), static_cast<uint64_t>(stride), &span) ||
                     __builtin_add_overflow(last, span, &last)))
      return false;
  }
  uint64_t bytes = 0, addressed = 0, end = 0;
  return numel == 0 || (!__builtin_mul_overflow(numel, element, &bytes) && bytes <= storage_bytes &&
                        !__builtin_add_overflow(last, uint64_t{1}, &addressed) &&
                        !__builtin_mul_overflow(addressed, element, &end) && end <= storage_bytes);
}

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// torch.save may store views into a shared storage (tied or sliced weights); copy those so
// entries neither alias each other nor keep a larger storage alive.
torch::Tensor own_memory(const torch::Tensor& t) {
  const bool owns = t.is_contiguous() && t.storage_offset() == 0 && t.storage().nbytes() == t.nbytes();
  return owns ? t : t.clone(torch::MemoryFormat::Contiguous);
}

}  // namespace

TensorMap read_torch_bin(const std::string& path) {
  const std::string text = read_file(path);
  return parse_torch_bin({text.begin(), text.end()}, path);
}

TensorMap parse_torch_bin(const std::vector<char>& bytes, const std::string& path) {
  // Since PyTorch 1.6, torch.save writes a zip archive; the older raw-pickle format is not supported.
  if (bytes.size() < 4 || std::string(bytes.data(), 4) != "PK\x03\x04")
    throw Error(path + ": not a torch.save zip archive (expected a .bin written by PyTorch >= 1.6)");

  const Bytes b{bytes, path};
  std::string folder;
  const std::map<std::string, Record> records = zip_records(b, folder);
  const auto program = records.find(folder + "data.pkl");
  if (program == records.end()) fail(path, "no data.pkl in the archive");
  check_pickle(b, program->second, records, folder);

  torch::IValue value;
  try {
    // What torch::pickle_load does, through the bounded reader.
    caffe2::serialize::PyTorchStreamReader reader(std::make_shared<BoundedReader>(bytes));
    value = torch::jit::readArchiveAndTensors("data", "", "", c10::nullopt, c10::nullopt, c10::nullopt, reader);
  } catch (const c10::Error& e) {
    throw Error(path + ": cannot load torch.save archive (" + e.what_without_backtrace() + ")");
  } catch (const std::exception& e) {
    throw Error(path + ": cannot load torch.save archive (" + e.what() + ")");
  }
  if (!value.isGenericDict())
    throw Error(path + ": expected a state dict (name -> tensor), got " + value.tagKind());

  TensorMap out;
  for (const auto& item : value.toGenericDict()) {
    if (!item.key().isString()) throw Error(path + ": state dict has a non-string key");
    const std::string name = item.key().toStringRef();
    if (!item.value().isTensor()) throw Error(path + ": '" + name + "' is not a tensor");
    const torch::Tensor t = item.value().toTensor();
    if (!view_in_storage(t)) throw Error(path + ": '" + name + "' lies outside its storage");
    out[name] = own_memory(t.to(torch::kCPU));
  }
  return out;
}

TensorMap read_state_dict(const std::string& path) {
  if (ends_with(path, ".safetensors")) return read_safetensors(path);
  if (ends_with(path, ".bin")) return read_torch_bin(path);
  throw Error(path + ": unknown checkpoint format (expected a .safetensors or .bin file)");
}

}  // namespace ft::io
