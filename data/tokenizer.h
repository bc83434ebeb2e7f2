// Byte-level BPE tokenizer read from a HF tokenizer.json (Qwen2/Qwen3 family), giving the same ids
// as HF `tokenizers`:
//   1. added tokens (special or not, e.g. <|im_start|>, <think>) are cut out of the raw text first,
//      leftmost-longest;
//   2. each remaining segment is NFC-normalised, split by the pre-tokenizer regex (PCRE2), and every
//      piece is mapped to bytes and merged by BPE rank (lowest rank first, leftmost on ties);
//   3. decode maps ids back to bytes and repairs invalid UTF-8 with U+FFFD (HF's errors="replace").
// Input text that is not valid UTF-8 is first repaired the same way (as Python's errors="replace").
// encode/decode are const and thread-safe (the per-piece cache is guarded by a mutex).
#pragma once
#include <array>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "data/regex_splitter.h"

namespace wm {

struct AddedToken {
  int32_t id;
  std::string content;
  bool special;  // special tokens can be skipped when decoding
};

class Tokenizer {
 public:
  // Reads DIR/tokenizer.json.
  static Tokenizer from_dir(const std::string& model_dir);
  static Tokenizer from_file(const std::string& tokenizer_json_path);

  Tokenizer(Tokenizer&&) noexcept;
  Tokenizer& operator=(Tokenizer&&) noexcept;
  ~Tokenizer();

  std::vector<int32_t> encode(std::string_view text) const;
  // Also gives, per token, the byte offset where it starts in `text` (in the repaired text when the
  // input was invalid UTF-8). Within a segment that NFC normalisation changed, every token gets the
  // offset of that segment's start.
  void encode(std::string_view text, std::vector<int32_t>& ids, std::vector<size_t>* token_starts) const;

  // Throws std::out_of_range naming the id when one is not in [0, vocab_size()).
  std::string decode(std::span<const int32_t> ids, bool skip_special_tokens = false) const;

  // Number of ids (largest id + 1); the model's embedding table may be larger.
  int32_t vocab_size() const { return static_cast<int32_t>(id_bytes_.size()); }
  // The id of an added token by its content, or of a BPE token by its raw bytes.
  std::optional<int32_t> token_id(std::string_view content_or_bytes) const;
  int32_t require_token_id(std::string_view content) const;  // throws naming the token
  const std::vector<AddedToken>& added_tokens() const { return added_; }
  bool is_special(int32_t id) const;
  // Hash of tokenizer.json's bytes (for cache keys).
  uint64_t fingerprint() const { return fingerprint_; }
  const std::string& path() const { return path_; }

  // Pieces longer than this many bytes are merged with a heap (O(n log n)) instead of the simple
  // O(n^2) scan that is faster for short pieces. Both give the same ids; exposed for tests.
  void set_bpe_heap_threshold(size_t bytes) { heap_threshold_ = bytes; }

 private:
  struct Merge {
    int32_t rank;
    int32_t id;
  };
  Tokenizer();
  void encode_segment(std::string_view segment, size_t base, std::vector<int32_t>& ids,
                      std::vector<size_t>* starts) const;
  void bpe(std::string_view piece, std::vector<int32_t>& out) const;
  void bpe_heap(std::string_view piece, std::vector<int32_t>& out) const;
  const Merge* find_merge(int32_t left, int32_t right) const {
    auto it = merges_.find(pair_key(left, right));
    return it == merges_.end() ? nullptr : &it->second;
  }
  void bpe_cached(std::string_view piece, std::vector<int32_t>& out) const;

  static uint64_t pair_key(int32_t a, int32_t b) {
    return (static_cast<uint64_t>(static_cast<uint32_t>(a)) << 32) | static_cast<uint32_t>(b);
  }

  std::string path_;
  uint64_t fingerprint_ = 0;
  std::vector<std::string> id_bytes_;  // raw bytes of every id (added tokens: as the decoder outputs them)
  std::vector<uint8_t> id_special_;
  std::unordered_map<std::string, int32_t> bpe_ids_;  // raw bytes -> id
  std::array<int32_t, 256> byte_ids_{};
  std::unordered_map<uint64_t, Merge> merges_;
  std::vector<AddedToken> added_;
  std::array<std::vector<int32_t>, 256> added_by_first_byte_;  // indices into added_, longest first
  std::unique_ptr<RegexSplitter> splitter_;
  bool nfc_ = false;
  size_t heap_threshold_ = 64;

  struct Cache {
    std::mutex mutex;
    std::unordered_map<std::string, std::vector<int32_t>> words;
  };
  std::unique_ptr<Cache> cache_;
};

}  // namespace wm
