// KV-cache decoding ops: kv_cache_write (scatter a token's k/v rows into its cache slot) and
// attention_decode (one query token per sequence against its cached keys; grouped-query).
#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>
#include <string>
#include <vector>

#include "kernels/cpu/cpu_backend.h"
#include "kernels/cpu/cpu_common.h"

namespace wm::cpu {
namespace {

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

void check_index(const char* op, const char* name, int64_t i, int32_t value, int64_t lo, int64_t hi) {
  if (value < lo || value > hi)
    throw std::out_of_range(std::string(op) + ": " + name + "[" + std::to_string(i) + "] = " + std::to_string(value) +
                            " is outside [" + std::to_string(lo) + ", " + std::to_string(hi) + "]");
}

}  // namespace

void CpuBackend::kv_cache_write(Tensor k_cache, Tensor v_cache, const Tensor& k, const Tensor& v,
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
  const int32_t* ps = slots.ptr<const int32_t>();
  const int32_t* pp = positions.ptr<const int32_t>();
  for (int64_t t = 0; t < T; ++t) {
    check_index(op, "slots", t, ps[t], 0, c.S - 1);
    check_index(op, "positions", t, pp[t], 0, c.L - 1);
  }
  const size_t row_bytes = static_cast<size_t>(c.Hkv * c.D) * dtype_size(k.dtype);
  auto* kc = static_cast<char*>(k_cache.data);
  auto* vc = static_cast<char*>(v_cache.data);
  for (int64_t t = 0; t < T; ++t) {
    const size_t dst = static_cast<size_t>(ps[t] * c.L + pp[t]) * row_bytes;
    std::copy_n(static_cast<const char*>(k.data) + t * row_bytes, row_bytes, kc + dst);
    std::copy_n(static_cast<const char*>(v.data) + t * row_bytes, row_bytes, vc + dst);
  }
}

void CpuBackend::attention_decode(Tensor out, const Tensor& q, const Tensor& k_cache, const Tensor& v_cache,
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
  const int32_t* ps = slots.ptr<const int32_t>();
  const int32_t* pl = lengths.ptr<const int32_t>();
  for (int64_t b = 0; b < B; ++b) {
    check_index(op, "slots", b, ps[b], 0, c.S - 1);
    check_index(op, "lengths", b, pl[b], 1, c.L);
  }
  const int64_t group = Hq / c.Hkv;
  dispatch_float(op, q, true, [&]<class T>() {
    using C = compute_t<T>;
    const T* pq = static_cast<const T*>(q.data);
    const T* pk = static_cast<const T*>(k_cache.data);
    const T* pv = static_cast<const T*>(v_cache.data);
    T* po = static_cast<T*>(out.data);
    const C sc = scale;
#pragma omp parallel
    {
      std::vector<C> score(c.L), acc(c.D);
#pragma omp for collapse(2) schedule(static)
      for (int64_t b = 0; b < B; ++b)
        for (int64_t h = 0; h < Hq; ++h) {
          const int64_t g = h / group, n = pl[b];
          const T* qrow = pq + (b * Hq + h) * c.D;
          auto key_row = [&](const T* cache, int64_t j) { return cache + ((ps[b] * c.L + j) * c.Hkv + g) * c.D; };
          C m = -std::numeric_limits<C>::infinity();
          for (int64_t j = 0; j < n; ++j) {
            const T* krow = key_row(pk, j);
            C dot = 0;
            for (int64_t i = 0; i < c.D; ++i) dot += to_compute(qrow[i]) * to_compute(krow[i]);
            score[j] = sc * dot;
            m = std::max(m, score[j]);
          }
          C l = 0;
          std::fill(acc.begin(), acc.end(), C(0));
          for (int64_t j = 0; j < n; ++j) {
            const C p = std::exp(score[j] - m);
            l += p;
            const T* vrow = key_row(pv, j);
            for (int64_t i = 0; i < c.D; ++i) acc[i] += p * to_compute(vrow[i]);
          }
          T* orow = po + (b * Hq + h) * c.D;
          for (int64_t i = 0; i < c.D; ++i) orow[i] = from_compute<T>(acc[i] / l);
        }
    }
  });
}

}  // namespace wm::cpu
