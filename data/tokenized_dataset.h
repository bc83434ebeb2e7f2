// A tokenised dataset held flat in memory: all examples' tokens and loss masks back to back, with
// offsets, and for each example the line of the source file it came from.
// It can be saved to / loaded from a binary cache file (see token_cache.h).
#pragma once
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "data/sft_example.h"

namespace wm {

struct DatasetStats {
  int64_t records = 0;      // examples read from the file (good or bad)
  int64_t examples = 0;     // kept
  int64_t skipped = 0;      // bad ones skipped (skip_bad_examples: true); each was logged
  int64_t tokens = 0;
  int64_t loss_tokens = 0;
};

class TokenizedDataset {
 public:
  void add(const TokenizedExample& ex, int64_t source_line);

  size_t size() const { return lines_.size(); }
  std::span<const int32_t> tokens(size_t i) const;
  std::span<const uint8_t> loss_mask(size_t i) const;
  int64_t length(size_t i) const { return offsets_[i + 1] - offsets_[i]; }
  int64_t source_line(size_t i) const { return lines_[i]; }

  DatasetStats stats;
  std::string source_path;
  bool loaded_from_cache = false;

  // Binary cache file with `key` in its header; load returns nullopt when the file is absent,
  // unreadable, of another version or written for another key.
  void save(const std::string& path, uint64_t key) const;
  static std::optional<TokenizedDataset> load(const std::string& path, uint64_t key);

 private:
  std::vector<int32_t> tokens_;
  std::vector<uint8_t> mask_;
  std::vector<int64_t> offsets_{0};
  std::vector<int64_t> lines_;
};

}  // namespace wm
