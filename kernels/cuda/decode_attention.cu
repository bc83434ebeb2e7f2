// KV-cache decoding: kv_cache_write (scatter k/v rows into cache slots) and attention_decode
// (one query token per sequence against its cached keys, grouped-query).
//
// attention_decode: one block of kWarps warps per (sequence b, kv head g); the block serves the G
// query heads of that kv head, so each cached key/value row is read once. Inside a warp, P = D/8
// lanes share one key (8 elements = one 16-byte bf16 load each), so 32/P keys are in flight per
// warp. Each lane group keeps an online softmax (m, l, acc) per head over its keys; the groups are
// merged with shuffles, the warps through shared memory.
#include "kernels/cuda/cuda_backend.h"
#include "kernels/cuda/cuda_common.cuh"

namespace wm::cuda {
namespace {

constexpr int kWarps = 4;

template <class T>
__global__ void kv_cache_write_kernel(T* k_cache, T* v_cache, const T* k, const T* v, const int* slots,
                                      const int* positions, int64_t T_, int64_t row, int S, int L,
                                      int* error_flag) {
  const int64_t idx = blockIdx.x * int64_t(blockDim.x) + threadIdx.x;
  if (idx >= T_ * row) return;
  const int64_t t = idx / row, e = idx % row;
  const int s = slots[t], p = positions[t];
  if (s < 0 || s >= S || p < 0 || p >= L) {
    if (e == 0) raise_error(error_flag, kRowIndexOutOfRange);
    return;
  }
  const int64_t dst = (int64_t(s) * L + p) * row + e;
  k_cache[dst] = k[idx];
  v_cache[dst] = v[idx];
}

// Merges the online-softmax state (m, l, acc) of the lane `off` apart into this lane's.
template <int G>
__device__ __forceinline__ void merge_with_lane(float (&m)[G], float (&l)[G], float (&acc)[G][8], int off) {
#pragma unroll
  for (int h = 0; h < G; ++h) {
    const float m2 = __shfl_xor_sync(0xffffffffu, m[h], off);
    const float l2 = __shfl_xor_sync(0xffffffffu, l[h], off);
    const float mx = fmaxf(m[h], m2);
    const float c1 = mx == -INFINITY ? 0.0f : __expf(m[h] - mx);
    const float c2 = mx == -INFINITY ? 0.0f : __expf(m2 - mx);
    l[h] = l[h] * c1 + l2 * c2;
#pragma unroll
    for (int e = 0; e < 8; ++e) {
      const float a2 = __shfl_xor_sync(0xffffffffu, acc[h][e], off);
      acc[h][e] = acc[h][e] * c1 + a2 * c2;
    }
    m[h] = mx;
  }
}

// P: lanes per key (D / 8, a power of two <= 32). G: query heads per kv head.
template <class T, int P, int G>
__global__ void __launch_bounds__(kWarps * 32)
attention_decode_kernel(T* out, const T* q, const T* k_cache, const T* v_cache, const int* slots,
                        const int* lengths, int Hq, int Hkv, int S, int L, float scale, int* error_flag) {
  constexpr int D = P * 8, kKeysPerWarp = 32 / P;
  const int b = blockIdx.x, g = blockIdx.y;
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  const int sub = lane / P, e0 = (lane % P) * 8;
  const int slot = slots[b], n = lengths[b];
  if (slot < 0 || slot >= S || n < 1 || n > L) {
    if (threadIdx.x == 0) raise_error(error_flag, kRowIndexOutOfRange);
    return;
  }
  float qv[G][8], acc[G][8], m[G], l[G];
#pragma unroll
  for (int h = 0; h < G; ++h) {
    load8(q + (int64_t(b) * Hq + g * G + h) * D + e0, qv[h]);
#pragma unroll
    for (int e = 0; e < 8; ++e) { qv[h][e] *= scale; acc[h][e] = 0.0f; }
    m[h] = -INFINITY;
    l[h] = 0.0f;
  }
  const int64_t key_stride = int64_t(Hkv) * D;
  const T* kbase = k_cache + int64_t(slot) * L * key_stride + int64_t(g) * D + e0;
  const T* vbase = v_cache + int64_t(slot) * L * key_stride + int64_t(g) * D + e0;
  // Lanes of a group whose key is past the end still join the shuffles (with a -inf score).
  for (int j0 = warp * kKeysPerWarp; j0 < n; j0 += kWarps * kKeysPerWarp) {
    const int j = j0 + sub;
    const bool valid = j < n;
    float kv[8], vv[8];
    if (valid) {
      load8(kbase + j * key_stride, kv);
      load8(vbase + j * key_stride, vv);
    } else {
#pragma unroll
      for (int e = 0; e < 8; ++e) kv[e] = vv[e] = 0.0f;
    }
#pragma unroll
    for (int h = 0; h < G; ++h) {
      float s = 0.0f;
#pragma unroll
      for (int e = 0; e < 8; ++e) s = fmaf(qv[h][e], kv[e], s);
#pragma unroll
      for (int off = P / 2; off > 0; off >>= 1) s += __shfl_xor_sync(0xffffffffu, s, off);
      if (!valid) continue;
      const float mx = fmaxf(m[h], s);
      const float corr = __expf(m[h] - mx), p = __expf(s - mx);
      l[h] = l[h] * corr + p;
#pragma unroll
      for (int e = 0; e < 8; ++e) acc[h][e] = fmaf(p, vv[e], acc[h][e] * corr);
      m[h] = mx;
    }
  }
#pragma unroll
  for (int off = P; off < 32; off <<= 1) merge_with_lane<G>(m, l, acc, off);

  // Across warps: warp w writes its state, then every thread finishes some (head, element) pairs.
  __shared__ float s_acc[kWarps][G][D];
  __shared__ float s_m[kWarps][G], s_l[kWarps][G];
  if (lane < P) {
#pragma unroll
    for (int h = 0; h < G; ++h) {
#pragma unroll
      for (int e = 0; e < 8; ++e) s_acc[warp][h][e0 + e] = acc[h][e];
      if (lane == 0) { s_m[warp][h] = m[h]; s_l[warp][h] = l[h]; }
    }
  }
  __syncthreads();
  for (int idx = threadIdx.x; idx < G * D; idx += blockDim.x) {
    const int h = idx / D, e = idx % D;
    float mx = -INFINITY;
#pragma unroll
    for (int w = 0; w < kWarps; ++w) mx = fmaxf(mx, s_m[w][h]);
    float lsum = 0.0f, o = 0.0f;
#pragma unroll
    for (int w = 0; w < kWarps; ++w) {
      const float c = s_m[w][h] == -INFINITY ? 0.0f : __expf(s_m[w][h] - mx);
      lsum += s_l[w][h] * c;
      o += s_acc[w][h][e] * c;
    }
    out[(int64_t(b) * Hq + g * G + h) * D + e] = from_f<T>(o / lsum);
  }
}

template <class T, int P>
void launch_decode_for_group(int G, dim3 grid, T* out, const T* q, const T* kc, const T* vc, const int* slots,
                             const int* lengths, int Hq, int Hkv, int S, int L, float scale) {
  auto& ctx = CudaContext::get();
  auto go = [&](auto kernel) {
    kernel<<<grid, kWarps * 32, 0, ctx.stream()>>>(out, q, kc, vc, slots, lengths, Hq, Hkv, S, L, scale,
                                                    ctx.error_flag());
  };
  switch (G) {
    case 1: go(attention_decode_kernel<T, P, 1>); break;
    case 2: go(attention_decode_kernel<T, P, 2>); break;
    case 3: go(attention_decode_kernel<T, P, 3>); break;
    case 4: go(attention_decode_kernel<T, P, 4>); break;
    case 5: go(attention_decode_kernel<T, P, 5>); break;
    case 6: go(attention_decode_kernel<T, P, 6>); break;
    case 7: go(attention_decode_kernel<T, P, 7>); break;
    case 8: go(attention_decode_kernel<T, P, 8>); break;
    default: fail("attention_decode", "query heads per kv head must be in [1, 8], got " + std::to_string(G));
  }
}

struct CacheShape {
  int64_t S, L, Hkv, D;
};

CacheShape check_caches(const char* op, const Tensor& k_cache, const Tensor& v_cache) {
  check_float(op, "k_cache", k_cache);
  check_rank(op, "k_cache", k_cache, 4);
  const CacheShape c{k_cache.size(0), k_cache.size(1), k_cache.size(2), k_cache.size(3)};
  check_dtype(op, "v_cache", v_cache, k_cache.dtype);
  check_shape(op, "v_cache", v_cache, {c.S, c.L, c.Hkv, c.D});
  return c;
}

}  // namespace

void CudaBackend::kv_cache_write(Tensor k_cache, Tensor v_cache, const Tensor& k, const Tensor& v,
                                 const Tensor& slots, const Tensor& positions) {
  const char* op = "kv_cache_write";
  const CacheShape c = check_caches(op, k_cache, v_cache);
  check_rank(op, "k", k, 3);
  const int64_t T = k.size(0);
  check_dtype(op, "k", k, k_cache.dtype);
  check_shape(op, "k", k, {T, c.Hkv, c.D});
  check_dtype(op, "v", v, k_cache.dtype);
  check_shape(op, "v", v, {T, c.Hkv, c.D});
  check_dtype(op, "slots", slots, DType::I32);
  check_shape(op, "slots", slots, {T});
  check_dtype(op, "positions", positions, DType::I32);
  check_shape(op, "positions", positions, {T});
  if (c.S >= INT32_MAX || c.L >= INT32_MAX) fail(op, "cache too large: " + k_cache.describe());
  const int64_t row = c.Hkv * c.D;
  if (T * row == 0) return;
  auto& ctx = CudaContext::get();
  dispatch_float(op, k, [&]<class E>() {
    kv_cache_write_kernel<<<grid_for(T * row, 256, INT32_MAX), 256, 0, ctx.stream()>>>(
        static_cast<E*>(k_cache.data), static_cast<E*>(v_cache.data), static_cast<const E*>(k.data),
        static_cast<const E*>(v.data), slots.ptr<const int32_t>(), positions.ptr<const int32_t>(), T, row,
        int(c.S), int(c.L), ctx.error_flag());
  });
  CUDA_CHECK_LAUNCH("kv_cache_write_kernel");
}

void CudaBackend::attention_decode(Tensor out, const Tensor& q, const Tensor& k_cache, const Tensor& v_cache,
                                   const Tensor& slots, const Tensor& lengths, float scale) {
  const char* op = "attention_decode";
  const CacheShape c = check_caches(op, k_cache, v_cache);
  check_rank(op, "q", q, 3);
  const int64_t B = q.size(0), Hq = q.size(1);
  check_dtype(op, "q", q, k_cache.dtype);
  check_shape(op, "q", q, {B, Hq, c.D});
  check_dtype(op, "out", out, q.dtype);
  check_shape(op, "out", out, {B, Hq, c.D});
  if (c.Hkv == 0 || Hq % c.Hkv != 0)
    fail(op, "query heads must be a multiple of kv heads: q " + q.describe() + ", k_cache " + k_cache.describe());
  check_dtype(op, "slots", slots, DType::I32);
  check_shape(op, "slots", slots, {B});
  check_dtype(op, "lengths", lengths, DType::I32);
  check_shape(op, "lengths", lengths, {B});
  for (const Tensor* t : {&q, &k_cache, &v_cache})
    if (!aligned16(t->data)) fail(op, "tensors must be 16-byte aligned, got " + t->describe());
  if (c.S >= INT32_MAX || c.L >= INT32_MAX || B >= INT32_MAX || c.Hkv > 65535)
    fail(op, "cache too large: " + k_cache.describe());
  if (B == 0) return;
  const int G = int(Hq / c.Hkv);
  const dim3 grid(unsigned(B), unsigned(c.Hkv));
  dispatch_float(op, q, [&]<class E>() {
    auto* po = static_cast<E*>(out.data);
    auto* pq = static_cast<const E*>(q.data);
    auto* pk = static_cast<const E*>(k_cache.data);
    auto* pv = static_cast<const E*>(v_cache.data);
    const int* ps = slots.ptr<const int32_t>();
    const int* pl = lengths.ptr<const int32_t>();
    const int hq = int(Hq), hkv = int(c.Hkv), s = int(c.S), L = int(c.L);
    switch (c.D) {
      case 8: launch_decode_for_group<E, 1>(G, grid, po, pq, pk, pv, ps, pl, hq, hkv, s, L, scale); break;
      case 16: launch_decode_for_group<E, 2>(G, grid, po, pq, pk, pv, ps, pl, hq, hkv, s, L, scale); break;
      case 32: launch_decode_for_group<E, 4>(G, grid, po, pq, pk, pv, ps, pl, hq, hkv, s, L, scale); break;
      case 64: launch_decode_for_group<E, 8>(G, grid, po, pq, pk, pv, ps, pl, hq, hkv, s, L, scale); break;
      case 128: launch_decode_for_group<E, 16>(G, grid, po, pq, pk, pv, ps, pl, hq, hkv, s, L, scale); break;
      default: fail(op, "head_dim must be one of 8, 16, 32, 64, 128, got " + q.describe());
    }
  });
  CUDA_CHECK_LAUNCH("attention_decode_kernel");
}

}  // namespace wm::cuda
