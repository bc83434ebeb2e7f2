// A small non-cryptographic 64-bit hash (FNV-1a) for cache keys and fingerprints.
#pragma once
#include <cstdint>
#include <string>
#include <string_view>

namespace wm {

class Fnv1a64 {
 public:
  Fnv1a64& add(std::string_view bytes) {
    for (unsigned char c : bytes) state_ = (state_ ^ c) * 0x100000001b3ULL;
    return *this;
  }
  Fnv1a64& add_u64(uint64_t v) { return add(std::string_view(reinterpret_cast<const char*>(&v), sizeof(v))); }
  uint64_t value() const { return state_; }
  std::string hex() const;

 private:
  uint64_t state_ = 0xcbf29ce484222325ULL;
};

std::string hex64(uint64_t v);  // 16 lowercase hex digits

// Hash of a whole file's bytes; throws naming the path when it cannot be read.
uint64_t hash_file(const std::string& path);

}  // namespace wm
