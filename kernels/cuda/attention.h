// Host-side helpers shared by the attention forward and backward launchers: argument checks and
// the head-dim dispatch (kernels are instantiated for padded head dims 16/32/64/128; the real
// head dim D may be any multiple of 8 up to 128, padded with zeros in shared memory).
#pragma once
#include <string>

#include "kernels/cuda/cuda_common.cuh"

namespace wm::cuda::attn {

struct AttnShape {
  int T, Hq, Hkv, D;
};

inline void check_aligned(const char* op, const char* name, const Tensor& t);

// q [T, Hq, D]; k, v [T, Hkv, D] of q's dtype; doc_start I32 [T]. doc_start values are device
// data: kernels check 0 <= doc_start[t] <= t and raise the device error flag otherwise.
inline AttnShape check_attention(const char* op, const Tensor& q, const Tensor& k, const Tensor& v,
                                 const Tensor& doc_start) {
  check_float(op, "q", q);
  check_rank(op, "q", q, 3);
  check_rank(op, "k", k, 3);
  const int64_t T = q.size(0), Hq = q.size(1), Hkv = k.size(1), D = q.size(2);
  check_dtype(op, "k", k, q.dtype);
  check_shape(op, "k", k, {T, Hkv, D});
  check_dtype(op, "v", v, q.dtype);
  check_shape(op, "v", v, {T, Hkv, D});
  if (Hkv == 0 || Hq % Hkv != 0)
    fail(op, "query heads must be a multiple of kv heads: q " + q.describe() + ", k " + k.describe());
  if (D % 8 != 0 || D == 0 || D > 128)
    fail(op, "head_dim must be a multiple of 8 in [8, 128], got " + q.describe());
  if (T >= (int64_t(1) << 30)) fail(op, "too many tokens: " + q.describe());
  check_dtype(op, "doc_start", doc_start, DType::I32);
  check_shape(op, "doc_start", doc_start, {T});
  check_aligned(op, "q", q);
  check_aligned(op, "k", k);
  check_aligned(op, "v", v);
  return AttnShape{int(T), int(Hq), int(Hkv), int(D)};
}

inline void check_aligned(const char* op, const char* name, const Tensor& t) {
  if (!aligned16(t.data)) fail(op, std::string(name) + " must be 16-byte aligned, got " + t.describe());
}

template <class F>
void dispatch_head_dim(const char* op, int D, F&& f) {
  if (D <= 16) f.template operator()<16>();
  else if (D <= 32) f.template operator()<32>();
  else if (D <= 64) f.template operator()<64>();
  else if (D <= 128) f.template operator()<128>();
  else fail(op, "head_dim " + std::to_string(D) + " > 128 is not supported");
}

}  // namespace wm::cuda::attn
