// The key/value cache of the rollout engine: per layer, post-RoPE keys and values of S sequence
// slots of up to L positions each, laid out [S, L, Hkv, D] (one token's kv heads form one
// contiguous row: the layout kv_cache_write / attention_decode take, see kernels/backend.h).
#pragma once
#include <cstdint>
#include <vector>

#include "kernels/buffer.h"
#include "model/config.h"

namespace wm {

class KvCache {
 public:
  // Throws std::invalid_argument when slots or max_len is not positive.
  KvCache(const Qwen3Config& cfg, int64_t slots, int64_t max_len, DType dtype, Device device);

  const Tensor& keys(int layer) const { return keys_.at(layer).t(); }      // [S, L, Hkv, D]
  const Tensor& values(int layer) const { return values_.at(layer).t(); }  // [S, L, Hkv, D]
  int64_t slots() const { return slots_; }
  int64_t max_len() const { return max_len_; }
  size_t bytes() const;

 private:
  int64_t slots_, max_len_;
  std::vector<OwnedTensor> keys_, values_;
};

}  // namespace wm
