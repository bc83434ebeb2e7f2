#include "model/safetensors.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <stdexcept>

#include <nlohmann/json.hpp>

#include "kernels/buffer.h"
#include "kernels/ops.h"

namespace wm {
namespace {

using json = nlohmann::json;
namespace fs = std::filesystem;

constexpr uint64_t kMaxHeaderBytes = 100u << 20;           // same limit as the reference reader
constexpr uint64_t kMaxTensorBytes = uint64_t(1) << 44;  // 16 TiB: anything above is a corrupt shape

[[noreturn]] void fail(const std::string& origin, const std::string& what) {
  throw std::runtime_error(origin + ": " + what);
}

std::string shown(const json& v) {
  std::string s = v.dump();
  return s.size() > 80 ? s.substr(0, 77) + "..." : s;
}

std::string range_string(uint64_t b, uint64_t e) {
  return "[" + std::to_string(b) + ", " + std::to_string(e) + ")";
}

// ---- element conversion (host)

template <class T> double load(T v) { return static_cast<double>(v); }
template <> double load(bf16 v) { return bf16_to_float(v); }
template <> double load(f16 v) { return f16_to_float(v); }
template <class T> T store(double v) { return static_cast<T>(v); }
template <> bf16 store(double v) { return float_to_bf16(static_cast<float>(v)); }
template <> f16 store(double v) { return float_to_f16(static_cast<float>(v)); }

template <class S, class D>
void convert_typed(const void* src, void* dst, size_t n) {
  const S* s = static_cast<const S*>(src);
  D* d = static_cast<D*>(dst);
  for (size_t i = 0; i < n; ++i) d[i] = store<D>(load<S>(s[i]));
}

template <class S>
void convert_from(const void* src, void* dst, DType dst_dtype, size_t n) {
  switch (dst_dtype) {
    case DType::F32: return convert_typed<S, float>(src, dst, n);
    case DType::F64: return convert_typed<S, double>(src, dst, n);
    case DType::BF16: return convert_typed<S, bf16>(src, dst, n);
    case DType::F16: return convert_typed<S, f16>(src, dst, n);
    default: break;
  }
  throw std::invalid_argument("convert_host: unsupported destination dtype");
}

// ---- POSIX file helpers

void read_exact(int fd, void* dst, size_t n, uint64_t offset, const std::string& path) {
  auto* p = static_cast<char*>(dst);
  while (n > 0) {
    ssize_t got = ::pread(fd, p, n, static_cast<off_t>(offset));
    if (got < 0) {
      if (errno == EINTR) continue;
      fail(path, std::string("read failed: ") + std::strerror(errno));
    }
    if (got == 0) fail(path, "unexpected end of file at byte " + std::to_string(offset) + " (truncated file?)");
    p += got;
    n -= static_cast<size_t>(got);
    offset += static_cast<uint64_t>(got);
  }
}

// A file being written; removed on destruction unless committed (renamed into place).
class AtomicFile {
 public:
  explicit AtomicFile(std::string final_path) : final_(std::move(final_path)), tmp_(final_ + ".tmp") {
    fd_ = ::open(tmp_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd_ < 0) fail(tmp_, std::string("cannot create: ") + std::strerror(errno));
  }
  AtomicFile(const AtomicFile&) = delete;
  AtomicFile& operator=(const AtomicFile&) = delete;
  ~AtomicFile() {
    if (fd_ >= 0) ::close(fd_);
    if (!committed_) ::unlink(tmp_.c_str());
  }
  void write(const void* data, size_t n) {
    const char* p = static_cast<const char*>(data);
    while (n > 0) {
      ssize_t put = ::write(fd_, p, n);
      if (put < 0) {
        if (errno == EINTR) continue;
        fail(tmp_, std::string("write failed: ") + std::strerror(errno));
      }
      p += put;
      n -= static_cast<size_t>(put);
    }
  }
  void commit() {
    if (::fsync(fd_) != 0) fail(tmp_, std::string("fsync failed: ") + std::strerror(errno));
    int rc = ::close(fd_);
    fd_ = -1;
    if (rc != 0) fail(tmp_, std::string("close failed: ") + std::strerror(errno));
    if (std::rename(tmp_.c_str(), final_.c_str()) != 0)
      fail(final_, std::string("cannot rename ") + tmp_ + " into place: " + std::strerror(errno));
    committed_ = true;
  }

 private:
  std::string final_, tmp_;
  int fd_ = -1;
  bool committed_ = false;
};

void write_text_atomically(const std::string& path, const std::string& text) {
  AtomicFile f(path);
  f.write(text.data(), text.size());
  f.commit();
}

// Parses the header, rejecting duplicate top-level names (plain json::parse keeps the last).
json parse_header(const std::string& text, const std::string& path) {
  std::set<std::string> seen;
  std::string duplicate;
  auto on_event = [&](int depth, json::parse_event_t event, json& parsed) {
    if (event == json::parse_event_t::key && depth == 1) {
      const auto& key = parsed.get_ref<const std::string&>();
      if (!seen.insert(key).second && duplicate.empty()) duplicate = key;
    }
    return true;
  };
  json header;
  try {
    header = json::parse(text, on_event);
  } catch (const json::parse_error& e) {
    fail(path, std::string("invalid JSON in the safetensors header: ") + e.what());
  }
  if (!duplicate.empty()) fail(path, "duplicate tensor name '" + duplicate + "' in the safetensors header");
  if (!header.is_object()) fail(path, "the safetensors header is not a JSON object: " + shown(header));
  return header;
}

uint64_t as_offset(const json& v, const std::string& path, const std::string& name) {
  if (!v.is_number_unsigned())
    fail(path, "tensor '" + name + "': data_offsets must hold non-negative integers, got " + shown(v));
  return v.get<uint64_t>();
}

SafetensorsEntry parse_entry(const std::string& name, const json& v, const std::string& path) {
  if (!v.is_object()) fail(path, "tensor '" + name + "': header entry is not an object: " + shown(v));
  for (const char* key : {"dtype", "shape", "data_offsets"})
    if (!v.contains(key)) fail(path, "tensor '" + name + "': header entry lacks '" + key + "'");
  SafetensorsEntry e;
  e.name = name;
  if (!v["dtype"].is_string()) fail(path, "tensor '" + name + "': dtype is not a string: " + shown(v["dtype"]));
  e.dtype = safetensors_dtype_from_string(v["dtype"].get<std::string>(), path + ": tensor '" + name + "'");

  const json& shape = v["shape"];
  if (!shape.is_array()) fail(path, "tensor '" + name + "': shape is not an array: " + shown(shape));
  uint64_t bytes = dtype_size(e.dtype);
  for (const auto& d : shape) {
    if (!d.is_number_integer())
      fail(path, "tensor '" + name + "': shape holds a non-integer: " + shown(shape));
    int64_t dim = d.get<int64_t>();
    if (dim < 0) fail(path, "tensor '" + name + "': negative dimension in shape " + shown(shape));
    if (dim > 0 && bytes > kMaxTensorBytes / static_cast<uint64_t>(dim))
      fail(path, "tensor '" + name + "': absurd shape " + shown(shape));
    bytes *= static_cast<uint64_t>(dim);
    e.shape.push_back(dim);
  }

  const json& offsets = v["data_offsets"];
  if (!offsets.is_array() || offsets.size() != 2)
    fail(path, "tensor '" + name + "': data_offsets must be [begin, end], got " + shown(offsets));
  e.begin = as_offset(offsets[0], path, name);
  e.end = as_offset(offsets[1], path, name);
  if (e.end < e.begin)
    fail(path, "tensor '" + name + "': data_offsets " + range_string(e.begin, e.end) + " end before they begin");
  if (e.end - e.begin != bytes)
    fail(path, "tensor '" + name + "': data_offsets " + range_string(e.begin, e.end) + " span " +
                   std::to_string(e.end - e.begin) + " bytes but " + safetensors_dtype_string(e.dtype) +
                   shape_string(e.shape) + " needs " + std::to_string(bytes));
  return e;
}

}  // namespace

// ---- dtype names

int64_t SafetensorsEntry::numel() const {
  int64_t n = 1;
  for (auto d : shape) n *= d;
  return n;
}

DType safetensors_dtype_from_string(const std::string& s, const std::string& origin) {
  if (s == "F32") return DType::F32;
  if (s == "F64") return DType::F64;
  if (s == "BF16") return DType::BF16;
  if (s == "F16") return DType::F16;
  if (s == "I32") return DType::I32;
  if (s == "I64") return DType::I64;
  fail(origin, "unsupported safetensors dtype '" + s + "' (supported: F32, F64, BF16, F16, I32, I64)");
}

const char* safetensors_dtype_string(DType dt) {
  switch (dt) {
    case DType::F32: return "F32";
    case DType::F64: return "F64";
    case DType::BF16: return "BF16";
    case DType::F16: return "F16";
    case DType::I32: return "I32";
    case DType::I64: return "I64";
  }
  return "?";
}

std::string shape_string(const std::vector<int64_t>& shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "]";
}

void convert_host(const void* src, DType src_dtype, void* dst, DType dst_dtype, size_t count) {
  if (src_dtype == dst_dtype) {
    std::memcpy(dst, src, count * dtype_size(src_dtype));
    return;
  }
  if (!is_floating(src_dtype) || !is_floating(dst_dtype))
    throw std::invalid_argument(std::string("convert_host: cannot convert ") + dtype_name(src_dtype) + " to " +
                                dtype_name(dst_dtype));
  switch (src_dtype) {
    case DType::F32: return convert_from<float>(src, dst, dst_dtype, count);
    case DType::F64: return convert_from<double>(src, dst, dst_dtype, count);
    case DType::BF16: return convert_from<bf16>(src, dst, dst_dtype, count);
    case DType::F16: return convert_from<f16>(src, dst, dst_dtype, count);
    default: break;
  }
  throw std::invalid_argument("convert_host: unsupported source dtype");
}

// ---- SafetensorsFile

SafetensorsFile::SafetensorsFile(std::string path) : path_(std::move(path)) {
  fd_ = ::open(path_.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd_ < 0) fail(path_, std::string("cannot open: ") + std::strerror(errno));
  try {
    struct stat st {};
    if (::fstat(fd_, &st) != 0) fail(path_, std::string("cannot stat: ") + std::strerror(errno));
    const auto file_size = static_cast<uint64_t>(st.st_size);
    if (file_size < 8)
      fail(path_, "file is " + std::to_string(file_size) + " bytes, too small for a safetensors header");
    unsigned char len_bytes[8];
    read_exact(fd_, len_bytes, 8, 0, path_);
    uint64_t header_len = 0;
    for (int i = 7; i >= 0; --i) header_len = (header_len << 8) | len_bytes[i];  // little-endian
    if (header_len > file_size - 8)
      fail(path_, "header length " + std::to_string(header_len) + " is past the end of the file (" +
                      std::to_string(file_size) + " bytes)");
    if (header_len > kMaxHeaderBytes)
      fail(path_, "header length " + std::to_string(header_len) + " is implausibly large");
    std::string text(header_len, '\0');
    read_exact(fd_, text.data(), header_len, 8, path_);
    data_start_ = 8 + header_len;
    const uint64_t data_size = file_size - data_start_;

    json header = parse_header(text, path_);
    for (auto it = header.begin(); it != header.end(); ++it) {
      if (it.key() == "__metadata__") {
        if (!it->is_object()) fail(path_, "__metadata__ is not an object: " + shown(*it));
        for (auto m = it->begin(); m != it->end(); ++m) {
          if (!m->is_string()) fail(path_, "__metadata__ value for '" + m.key() + "' is not a string");
          metadata_[m.key()] = m->get<std::string>();
        }
        continue;
      }
      entries_.push_back(parse_entry(it.key(), *it, path_));
    }
    std::sort(entries_.begin(), entries_.end(), [](const auto& a, const auto& b) {
      return a.begin != b.begin ? a.begin < b.begin : a.end < b.end;
    });
    const SafetensorsEntry* prev = nullptr;
    for (const auto& e : entries_) {
      if (e.end > data_size)
        fail(path_, "tensor '" + e.name + "': data_offsets " + range_string(e.begin, e.end) +
                        " run past the end of the data section (" + std::to_string(data_size) +
                        " bytes; truncated file?)");
      if (e.begin == e.end) continue;
      if (prev && e.begin < prev->end)
        fail(path_, "tensors '" + prev->name + "' " + range_string(prev->begin, prev->end) + " and '" + e.name +
                        "' " + range_string(e.begin, e.end) + " have overlapping data_offsets");
      prev = &e;
    }
    for (size_t i = 0; i < entries_.size(); ++i) index_[entries_[i].name] = i;
  } catch (...) {
    ::close(fd_);
    fd_ = -1;
    throw;
  }
}

SafetensorsFile::SafetensorsFile(SafetensorsFile&& o) noexcept
    : path_(std::move(o.path_)), fd_(std::exchange(o.fd_, -1)), data_start_(o.data_start_),
      entries_(std::move(o.entries_)), index_(std::move(o.index_)), metadata_(std::move(o.metadata_)) {}

SafetensorsFile& SafetensorsFile::operator=(SafetensorsFile&& o) noexcept {
  if (this != &o) {
    if (fd_ >= 0) ::close(fd_);
    path_ = std::move(o.path_);
    fd_ = std::exchange(o.fd_, -1);
    data_start_ = o.data_start_;
    entries_ = std::move(o.entries_);
    index_ = std::move(o.index_);
    metadata_ = std::move(o.metadata_);
  }
  return *this;
}

SafetensorsFile::~SafetensorsFile() {
  if (fd_ >= 0) ::close(fd_);
}

const SafetensorsEntry* SafetensorsFile::find(const std::string& name) const {
  auto it = index_.find(name);
  return it == index_.end() ? nullptr : &entries_[it->second];
}

const SafetensorsEntry& SafetensorsFile::at(const std::string& name) const {
  const SafetensorsEntry* e = find(name);
  if (!e) fail(path_, "no tensor named '" + name + "'");
  return *e;
}

std::vector<char> SafetensorsFile::read_bytes(const SafetensorsEntry& e) const {
  std::vector<char> bytes(e.end - e.begin);
  read_exact(fd_, bytes.data(), bytes.size(), data_start_ + e.begin, path_);
  return bytes;
}

void SafetensorsFile::read_into(const std::string& name, Tensor dst) const {
  const SafetensorsEntry& e = at(name);
  if (dst.numel() != e.numel())
    fail(path_, "tensor '" + name + "' has " + std::to_string(e.numel()) + " elements " + shape_string(e.shape) +
                    " but the destination " + dst.describe() + " has " + std::to_string(dst.numel()));
  if (e.dtype != dst.dtype && !(is_floating(e.dtype) && is_floating(dst.dtype)))
    fail(path_, std::string("tensor '") + name + "' is " + safetensors_dtype_string(e.dtype) +
                    " and cannot be converted to " + dtype_name(dst.dtype));
  const auto n = static_cast<size_t>(e.numel());
  if (dst.device == Device::CPU) {
    if (e.dtype == dst.dtype) {
      read_exact(fd_, dst.data, e.end - e.begin, data_start_ + e.begin, path_);
    } else {
      std::vector<char> raw = read_bytes(e);
      convert_host(raw.data(), e.dtype, dst.data, dst.dtype, n);
    }
    return;
  }
  // Device destination: convert on the host into a staging tensor, then one host->device copy.
  OwnedTensor staging({static_cast<int64_t>(n)}, dst.dtype, Device::CPU);
  Tensor staged = staging.t();
  if (e.dtype == dst.dtype) {
    read_exact(fd_, staged.data, e.end - e.begin, data_start_ + e.begin, path_);
  } else {
    std::vector<char> raw = read_bytes(e);
    convert_host(raw.data(), e.dtype, staged.data, dst.dtype, n);
  }
  ops::copy(dst, staged);
  ops::synchronize(dst.device);
}

// ---- SafetensorsSet

SafetensorsSet SafetensorsSet::open_file(const std::string& path) {
  SafetensorsSet set;
  set.description_ = path;
  set.files_.emplace_back(path);
  for (const auto& e : set.files_.back().entries()) set.owner_[e.name] = 0;
  return set;
}

SafetensorsSet SafetensorsSet::open_index(const std::string& index_path) {
  std::ifstream in(index_path, std::ios::binary);
  if (!in) fail(index_path, "cannot open the safetensors index");
  std::ostringstream text;
  text << in.rdbuf();
  json index;
  try {
    index = json::parse(text.str());
  } catch (const json::parse_error& e) {
    fail(index_path, std::string("invalid JSON: ") + e.what());
  }
  if (!index.is_object() || !index.contains("weight_map") || !index["weight_map"].is_object())
    fail(index_path, "expected an object with a \"weight_map\" object");
  const fs::path dir = fs::path(index_path).parent_path();

  SafetensorsSet set;
  set.description_ = index_path;
  std::map<std::string, size_t> file_slot;
  std::map<std::string, std::string> expected;  // tensor -> file named by the index
  for (auto it = index["weight_map"].begin(); it != index["weight_map"].end(); ++it) {
    if (!it->is_string()) fail(index_path, "weight_map entry '" + it.key() + "' is not a file name: " + shown(*it));
    std::string file = it->get<std::string>();
    if (file.empty() || fs::path(file).is_absolute() || file.find("..") != std::string::npos)
      fail(index_path, "weight_map entry '" + it.key() + "' names an invalid file '" + file + "'");
    expected[it.key()] = file;
    if (file_slot.count(file)) continue;
    file_slot[file] = set.files_.size();
    const fs::path shard = dir / file;
    if (!fs::exists(shard)) fail(index_path, "shard '" + file + "' (for tensor '" + it.key() + "') does not exist");
    set.files_.emplace_back(shard.string());
  }
  for (size_t f = 0; f < set.files_.size(); ++f) {
    for (const auto& e : set.files_[f].entries()) {
      auto [pos, inserted] = set.owner_.emplace(e.name, f);
      if (!inserted)
        fail(index_path, "tensor '" + e.name + "' is stored twice, in " + set.files_[pos->second].path() + " and " +
                             set.files_[f].path());
    }
  }
  for (const auto& [name, file] : expected) {
    const SafetensorsFile& shard = set.files_[file_slot[file]];
    if (!shard.find(name))
      fail(index_path, "weight_map puts tensor '" + name + "' in " + file + " but that file has no such tensor");
  }
  return set;
}

SafetensorsSet SafetensorsSet::open_folder(const std::string& dir) {
  const fs::path index = fs::path(dir) / "model.safetensors.index.json";
  const fs::path single = fs::path(dir) / "model.safetensors";
  if (fs::exists(index)) return open_index(index.string());
  if (fs::exists(single)) return open_file(single.string());
  std::string hint = fs::exists(fs::path(dir) / "pytorch_model.bin") ? " (only safetensors weights are supported)" : "";
  fail(dir, "no model.safetensors or model.safetensors.index.json in this folder" + hint);
}

const SafetensorsFile* SafetensorsSet::file_of(const std::string& name) const {
  auto it = owner_.find(name);
  return it == owner_.end() ? nullptr : &files_[it->second];
}

std::vector<std::string> SafetensorsSet::names() const {
  std::vector<std::string> out;
  for (const auto& [name, file] : owner_) out.push_back(name);
  return out;
}

// ---- writing

namespace {

DType stored_dtype(const Tensor& t, DType store_as) { return is_floating(t.dtype) ? store_as : t.dtype; }

std::vector<int64_t> shape_of(const Tensor& t) { return {t.shape.begin(), t.shape.begin() + t.ndim}; }

void check_names(const NamedTensors& tensors, DType store_as, const std::string& path) {
  if (!is_floating(store_as)) fail(path, std::string("cannot store float tensors as ") + dtype_name(store_as));
  std::set<std::string> seen;
  for (const auto& nt : tensors) {
    if (nt.name.empty() || nt.name == "__metadata__") fail(path, "invalid tensor name '" + nt.name + "'");
    if (!seen.insert(nt.name).second) fail(path, "duplicate tensor name '" + nt.name + "'");
    if (!nt.tensor.defined()) fail(path, "tensor '" + nt.name + "' has no data");
  }
}

// Streams one tensor into the file as `dtype`, in chunks (device tensors come to the host first).
void write_tensor(AtomicFile& out, const Tensor& t, DType dtype) {
  Tensor host = t;
  OwnedTensor staging;
  if (t.device != Device::CPU) {
    staging = OwnedTensor({t.numel()}, t.dtype, Device::CPU);
    ops::copy(staging.t(), t.view({t.numel()}));
    ops::synchronize(t.device);
    host = staging.t();
  }
  if (host.dtype == dtype) {
    out.write(host.data, host.nbytes());
    return;
  }
  constexpr size_t kChunk = 1 << 20;
  std::vector<char> buffer(kChunk * dtype_size(dtype));
  const auto n = static_cast<size_t>(host.numel());
  const char* src = static_cast<const char*>(host.data);
  for (size_t i = 0; i < n; i += kChunk) {
    size_t count = std::min(kChunk, n - i);
    convert_host(src + i * dtype_size(host.dtype), host.dtype, buffer.data(), dtype, count);
    out.write(buffer.data(), count * dtype_size(dtype));
  }
}

}  // namespace

void write_safetensors(const std::string& path, const NamedTensors& tensors, DType store_as,
                       const SafetensorsMetadata& metadata) {
  check_names(tensors, store_as, path);
  // Wider dtypes first keeps every tensor aligned to its element size (as the reference writer does).
  std::vector<const NamedTensor*> order;
  for (const auto& nt : tensors) order.push_back(&nt);
  std::stable_sort(order.begin(), order.end(), [&](const NamedTensor* a, const NamedTensor* b) {
    return dtype_size(stored_dtype(a->tensor, store_as)) > dtype_size(stored_dtype(b->tensor, store_as));
  });

  json header = json::object();
  if (!metadata.empty()) header["__metadata__"] = metadata;
  uint64_t offset = 0;
  for (const NamedTensor* nt : order) {
    DType dt = stored_dtype(nt->tensor, store_as);
    uint64_t bytes = static_cast<uint64_t>(nt->tensor.numel()) * dtype_size(dt);
    header[nt->name] = {{"dtype", safetensors_dtype_string(dt)},
                        {"shape", shape_of(nt->tensor)},
                        {"data_offsets", {offset, offset + bytes}}};
    offset += bytes;
  }
  std::string text = header.dump();
  text.append((8 - text.size() % 8) % 8, ' ');  // the data section starts 8-byte aligned

  AtomicFile out(path);
  unsigned char len_bytes[8];
  uint64_t len = text.size();
  for (int i = 0; i < 8; ++i) len_bytes[i] = static_cast<unsigned char>(len >> (8 * i));
  out.write(len_bytes, 8);
  out.write(text.data(), text.size());
  for (const NamedTensor* nt : order) write_tensor(out, nt->tensor, stored_dtype(nt->tensor, store_as));
  out.commit();
}

std::vector<std::string> write_safetensors_sharded(const std::string& dir, const std::string& base,
                                                   const NamedTensors& tensors, DType store_as,
                                                   uint64_t max_shard_bytes, const SafetensorsMetadata& metadata) {
  const std::string index_path = (fs::path(dir) / (base + ".safetensors.index.json")).string();
  if (max_shard_bytes == 0) fail(index_path, "the maximum shard size must be positive");
  check_names(tensors, store_as, index_path);

  std::vector<NamedTensors> shards(1);
  uint64_t shard_bytes = 0, total_bytes = 0;
  for (const auto& nt : tensors) {
    uint64_t bytes = static_cast<uint64_t>(nt.tensor.numel()) * dtype_size(stored_dtype(nt.tensor, store_as));
    if (!shards.back().empty() && shard_bytes + bytes > max_shard_bytes) {
      shards.emplace_back();
      shard_bytes = 0;
    }
    shards.back().push_back(nt);
    shard_bytes += bytes;
    total_bytes += bytes;
  }

  if (shards.size() == 1) {
    const std::string name = base + ".safetensors";
    write_safetensors((fs::path(dir) / name).string(), tensors, store_as, metadata);
    return {name};
  }
  std::vector<std::string> names;
  json weight_map = json::object();
  for (size_t i = 0; i < shards.size(); ++i) {
    char suffix[64];
    std::snprintf(suffix, sizeof(suffix), "-%05zu-of-%05zu.safetensors", i + 1, shards.size());
    const std::string name = base + suffix;
    write_safetensors((fs::path(dir) / name).string(), shards[i], store_as, metadata);
    for (const auto& nt : shards[i]) weight_map[nt.name] = name;
    names.push_back(name);
  }
  json index = {{"metadata", {{"total_size", total_bytes}}}, {"weight_map", weight_map}};
  write_text_atomically(index_path, index.dump(2) + "\n");
  names.push_back(base + ".safetensors.index.json");
  return names;
}

}  // namespace wm
