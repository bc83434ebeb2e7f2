// Reading and writing the safetensors format:
//   [u64 little-endian N][N bytes of JSON header][data section]
// The header maps each tensor name to {"dtype", "shape", "data_offsets": [begin, end]} (offsets
// relative to the data section), plus an optional "__metadata__" object of string -> string.
// Sharded checkpoints add `<base>.safetensors.index.json` with a "weight_map" name -> file.
#pragma once
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "kernels/tensor.h"
#include "model/named_tensor.h"

namespace wm {

using SafetensorsMetadata = std::map<std::string, std::string>;

struct SafetensorsEntry {
  std::string name;
  DType dtype = DType::F32;
  std::vector<int64_t> shape;
  uint64_t begin = 0, end = 0;  // byte range within the data section
  int64_t numel() const;
};

// "F32" <-> DType::F32 etc. Throws naming the dtype for anything else (F8_E4M3, BOOL, U8 ...).
DType safetensors_dtype_from_string(const std::string& s, const std::string& origin);
const char* safetensors_dtype_string(DType dt);
std::string shape_string(const std::vector<int64_t>& shape);  // "[4, 128]"

// One .safetensors file. The constructor reads and validates the whole header (and checks the
// data section against the file size); tensor data are read on demand with pread.
class SafetensorsFile {
 public:
  explicit SafetensorsFile(std::string path);
  SafetensorsFile(SafetensorsFile&&) noexcept;
  SafetensorsFile& operator=(SafetensorsFile&&) noexcept;
  SafetensorsFile(const SafetensorsFile&) = delete;
  SafetensorsFile& operator=(const SafetensorsFile&) = delete;
  ~SafetensorsFile();

  const std::string& path() const { return path_; }
  const std::vector<SafetensorsEntry>& entries() const { return entries_; }
  const SafetensorsMetadata& metadata() const { return metadata_; }
  const SafetensorsEntry* find(const std::string& name) const;  // nullptr when absent
  const SafetensorsEntry& at(const std::string& name) const;    // throws naming file and tensor

  // Copies tensor `name` into dst (CPU or CUDA), converting between float dtypes on the host
  // (e.g. bf16 in the file -> f32 destination). dst must have the entry's number of elements;
  // integer tensors need the same dtype in dst. Shapes are the caller's business.
  void read_into(const std::string& name, Tensor dst) const;
  // The raw bytes of a tensor, as stored.
  std::vector<char> read_bytes(const SafetensorsEntry& e) const;

 private:
  std::string path_;
  int fd_ = -1;
  uint64_t data_start_ = 0;  // file offset of the data section
  std::vector<SafetensorsEntry> entries_;
  std::map<std::string, size_t> index_;
  SafetensorsMetadata metadata_;
};

// A checkpoint made of one or more safetensors files: a single file, or the shards named by an
// index file (`model.safetensors.index.json`).
class SafetensorsSet {
 public:
  // `dir/model.safetensors.index.json` if present, else `dir/model.safetensors`.
  static SafetensorsSet open_folder(const std::string& dir);
  static SafetensorsSet open_index(const std::string& index_path);
  static SafetensorsSet open_file(const std::string& path);

  const std::vector<SafetensorsFile>& files() const { return files_; }
  std::string description() const { return description_; }  // for error messages
  // The file holding `name`, or nullptr.
  const SafetensorsFile* file_of(const std::string& name) const;
  std::vector<std::string> names() const;  // sorted

 private:
  std::vector<SafetensorsFile> files_;
  std::map<std::string, size_t> owner_;  // tensor name -> index into files_
  std::string description_;
};

// Writes `tensors` (CPU or CUDA) to `path` atomically: `path.tmp` is written, flushed and then
// renamed over `path`. Float tensors are stored as `store_as` (a float dtype; bf16 rounds to
// nearest even); integer tensors keep their dtype. Throws on duplicate or empty names.
void write_safetensors(const std::string& path, const NamedTensors& tensors, DType store_as,
                       const SafetensorsMetadata& metadata = {});

// Writes `dir/<base>.safetensors` when everything fits in `max_shard_bytes`, else
// `dir/<base>-0000i-of-0000n.safetensors` shards plus `dir/<base>.safetensors.index.json`
// (HF layout). Tensors are packed greedily in the given order; a tensor larger than the limit
// gets a shard of its own. Returns the file names written (relative to dir).
std::vector<std::string> write_safetensors_sharded(const std::string& dir, const std::string& base,
                                                   const NamedTensors& tensors, DType store_as,
                                                   uint64_t max_shard_bytes,
                                                   const SafetensorsMetadata& metadata = {});

// Host-side element conversion between any two float dtypes, or a plain copy for equal dtypes.
void convert_host(const void* src, DType src_dtype, void* dst, DType dst_dtype, size_t count);

}  // namespace wm
