#include "data/tokenized_dataset.h"

#include <cstring>
#include <filesystem>
#include <fstream>
#include <stdexcept>

namespace wm {

namespace {

constexpr char kMagic[8] = {'W', 'M', 'T', 'O', 'K', '0', '0', '1'};

template <class T>
void write_pod(std::ofstream& out, const T& v) {
  out.write(reinterpret_cast<const char*>(&v), sizeof(T));
}

template <class T>
void write_vec(std::ofstream& out, const std::vector<T>& v) {
  write_pod<uint64_t>(out, v.size());
  out.write(reinterpret_cast<const char*>(v.data()), static_cast<std::streamsize>(v.size() * sizeof(T)));
}

template <class T>
bool read_pod(std::ifstream& in, T& v) {
  return static_cast<bool>(in.read(reinterpret_cast<char*>(&v), sizeof(T)));
}

template <class T>
bool read_vec(std::ifstream& in, std::vector<T>& v, uint64_t max_elems) {
  uint64_t n = 0;
  if (!read_pod(in, n) || n > max_elems) return false;
  v.resize(n);
  return static_cast<bool>(in.read(reinterpret_cast<char*>(v.data()), static_cast<std::streamsize>(n * sizeof(T))));
}

}  // namespace

void TokenizedDataset::add(const TokenizedExample& ex, int64_t source_line) {
  if (ex.tokens.size() != ex.loss_mask.size()) throw std::logic_error("tokens and loss mask differ in length");
  tokens_.insert(tokens_.end(), ex.tokens.begin(), ex.tokens.end());
  mask_.insert(mask_.end(), ex.loss_mask.begin(), ex.loss_mask.end());
  offsets_.push_back(static_cast<int64_t>(tokens_.size()));
  lines_.push_back(source_line);
  stats.examples += 1;
  stats.tokens += static_cast<int64_t>(ex.tokens.size());
  stats.loss_tokens += ex.loss_tokens();
}

std::span<const int32_t> TokenizedDataset::tokens(size_t i) const {
  return std::span<const int32_t>(tokens_).subspan(static_cast<size_t>(offsets_[i]), static_cast<size_t>(length(i)));
}

std::span<const uint8_t> TokenizedDataset::loss_mask(size_t i) const {
  return std::span<const uint8_t>(mask_).subspan(static_cast<size_t>(offsets_[i]), static_cast<size_t>(length(i)));
}

void TokenizedDataset::save(const std::string& path, uint64_t key) const {
  std::filesystem::path p(path);
  if (p.has_parent_path()) std::filesystem::create_directories(p.parent_path());
  const std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out) throw std::runtime_error("cannot write dataset cache " + tmp);
    out.write(kMagic, sizeof(kMagic));
    write_pod(out, key);
    write_pod(out, stats);
    write_vec(out, tokens_);
    write_vec(out, mask_);
    write_vec(out, offsets_);
    write_vec(out, lines_);
    if (!out) throw std::runtime_error("failed writing dataset cache " + tmp);
  }
  std::filesystem::rename(tmp, path);  // atomic: a reader never sees half a file
}

std::optional<TokenizedDataset> TokenizedDataset::load(const std::string& path, uint64_t key) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::nullopt;
  char magic[8];
  uint64_t stored_key = 0;
  if (!in.read(magic, sizeof(magic)) || std::memcmp(magic, kMagic, sizeof(kMagic)) != 0) return std::nullopt;
  if (!read_pod(in, stored_key) || stored_key != key) return std::nullopt;
  TokenizedDataset d;
  const uint64_t size = std::filesystem::file_size(path);
  if (!read_pod(in, d.stats) || !read_vec(in, d.tokens_, size / sizeof(int32_t)) || !read_vec(in, d.mask_, size) ||
      !read_vec(in, d.offsets_, size / sizeof(int64_t)) || !read_vec(in, d.lines_, size / sizeof(int64_t)))
    return std::nullopt;
  if (d.offsets_.empty() || d.offsets_.size() != d.lines_.size() + 1 || d.tokens_.size() != d.mask_.size() ||
      d.offsets_.back() != static_cast<int64_t>(d.tokens_.size()))
    return std::nullopt;
  d.loaded_from_cache = true;
  return d;
}

}  // namespace wm
