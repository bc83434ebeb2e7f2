#include "model/kv_cache.h"

#include <stdexcept>
#include <string>

namespace wm {

KvCache::KvCache(const Qwen3Config& cfg, int64_t slots, int64_t max_len, DType dtype, Device device)
    : slots_(slots), max_len_(max_len) {
  if (slots <= 0 || max_len <= 0)
    throw std::invalid_argument("KvCache: slots and max_len must be positive, got " + std::to_string(slots) +
                                " and " + std::to_string(max_len));
  const int64_t hkv = cfg.num_key_value_heads, hd = cfg.head_dim;
  for (int64_t l = 0; l < cfg.num_hidden_layers; ++l) {
    keys_.emplace_back(std::initializer_list<int64_t>{slots, max_len, hkv, hd}, dtype, device);
    values_.emplace_back(std::initializer_list<int64_t>{slots, max_len, hkv, hd}, dtype, device);
  }
}

size_t KvCache::bytes() const {
  size_t n = 0;
  for (size_t l = 0; l < keys_.size(); ++l) n += keys_[l].t().nbytes() + values_[l].t().nbytes();
  return n;
}

}  // namespace wm
