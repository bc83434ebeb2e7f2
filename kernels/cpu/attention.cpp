// Causal grouped-query attention over packed documents, flash-attention style:
// the forward keeps only O(T) scratch per query row and saves lse; the backward recomputes the
// probabilities from lse:  P = exp(S - lse),  dS = P * (dP - rowsum(dO * O)).
#include <algorithm>
#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "kernels/cpu/cpu_backend.h"
#include "kernels/cpu/cpu_common.h"

namespace wm::cpu {
namespace {

struct AttentionShape {
  int64_t T, Hq, Hkv, D;
  int64_t group() const { return Hq / Hkv; }
};

AttentionShape check_attention(const char* op, const Tensor& q, const Tensor& k, const Tensor& v,
                               const Tensor& doc_start) {
  check_float(op, "q", q);
  check_rank(op, "q", q, 3);
  check_rank(op, "k", k, 3);
  AttentionShape s{q.size(0), q.size(1), k.size(1), q.size(2)};
  check_dtype(op, "k", k, q.dtype);
  check_shape(op, "k", k, {s.T, s.Hkv, s.D});
  check_dtype(op, "v", v, q.dtype);
  check_shape(op, "v", v, {s.T, s.Hkv, s.D});
  if (s.Hkv == 0 || s.Hq % s.Hkv != 0)
    fail(op, "query heads must be a multiple of kv heads: q " + q.describe() + ", k " + k.describe());
  check_dtype(op, "doc_start", doc_start, DType::I32);
  check_shape(op, "doc_start", doc_start, {s.T});
  const int32_t* ds = doc_start.ptr<const int32_t>();
  for (int64_t t = 0; t < s.T; ++t)
    if (ds[t] < 0 || ds[t] > t)
      fail(op, "doc_start[" + std::to_string(t) + "] = " + std::to_string(ds[t]) +
                   " must lie in [0, " + std::to_string(t) + "] (" + doc_start.describe() + ")");
  return s;
}

template <class T, class C = compute_t<T>>
C dot(const T* a, const T* b, int64_t n) {
  C acc = 0;
  for (int64_t i = 0; i < n; ++i) acc += to_compute(a[i]) * to_compute(b[i]);
  return acc;
}

}  // namespace

void CpuBackend::attention_forward(Tensor out, Tensor lse, const Tensor& q, const Tensor& k,
                                   const Tensor& v, const Tensor& doc_start, float scale,
                                   const AttnDocs& /*docs: the reference kernel needs none*/) {
  const char* op = "attention_forward";
  const AttentionShape s = check_attention(op, q, k, v, doc_start);
  check_dtype(op, "out", out, q.dtype);
  check_shape(op, "out", out, {s.T, s.Hq, s.D});
  check_shape(op, "lse", lse, {s.Hq, s.T});
  const int32_t* ds = doc_start.ptr<const int32_t>();
  dispatch_float(op, q, true, [&]<class T>() {
    using C = compute_t<T>;
    check_dtype(op, "lse", lse, stat_dtype<T>());
    const T* pq = static_cast<const T*>(q.data);
    const T* pk = static_cast<const T*>(k.data);
    const T* pv = static_cast<const T*>(v.data);
    T* po = static_cast<T*>(out.data);
    C* pl = static_cast<C*>(lse.data);
    const C sc = scale;
#pragma omp parallel
    {
      std::vector<C> prob(s.T), acc(s.D);  // O(T) scratch per thread
#pragma omp for collapse(2) schedule(dynamic, 8)
      for (int64_t h = 0; h < s.Hq; ++h)
        for (int64_t t = 0; t < s.T; ++t) {
          const int64_t g = h / s.group(), first = ds[t];
          const T* qrow = pq + (t * s.Hq + h) * s.D;
          C m = -std::numeric_limits<C>::infinity();
          for (int64_t j = first; j <= t; ++j) {
            prob[j - first] = sc * dot(qrow, pk + (j * s.Hkv + g) * s.D, s.D);
            m = std::max(m, prob[j - first]);
          }
          C l = 0;
          std::fill(acc.begin(), acc.end(), C(0));
          for (int64_t j = first; j <= t; ++j) {
            const C p = std::exp(prob[j - first] - m);
            l += p;
            const T* vrow = pv + (j * s.Hkv + g) * s.D;
            for (int64_t i = 0; i < s.D; ++i) acc[i] += p * to_compute(vrow[i]);
          }
          T* orow = po + (t * s.Hq + h) * s.D;
          for (int64_t i = 0; i < s.D; ++i) orow[i] = from_compute<T>(acc[i] / l);
          pl[h * s.T + t] = m + std::log(l);
        }
    }
  });
}

void CpuBackend::attention_backward(Tensor dq, Tensor dk, Tensor dv, const Tensor& dout,
                                    const Tensor& q, const Tensor& k, const Tensor& v,
                                    const Tensor& out, const Tensor& lse, const Tensor& doc_start,
                                    float scale, const AttnDocs& /*docs*/) {
  const char* op = "attention_backward";
  const AttentionShape s = check_attention(op, q, k, v, doc_start);
  auto check_like = [&](const char* name, const Tensor& t, int64_t heads) {
    check_dtype(op, name, t, q.dtype);
    check_shape(op, name, t, {s.T, heads, s.D});
  };
  check_like("dq", dq, s.Hq);
  check_like("dout", dout, s.Hq);
  check_like("out", out, s.Hq);
  check_like("dk", dk, s.Hkv);
  check_like("dv", dv, s.Hkv);
  check_shape(op, "lse", lse, {s.Hq, s.T});
  const int32_t* ds = doc_start.ptr<const int32_t>();
  dispatch_float(op, q, true, [&]<class T>() {
    using C = compute_t<T>;
    check_dtype(op, "lse", lse, stat_dtype<T>());
    const T* pq = static_cast<const T*>(q.data);
    const T* pk = static_cast<const T*>(k.data);
    const T* pv = static_cast<const T*>(v.data);
    const T* po = static_cast<const T*>(out.data);
    const T* pdo = static_cast<const T*>(dout.data);
    const C* pl = static_cast<const C*>(lse.data);
    T* pdq = static_cast<T*>(dq.data);
    T* pdk = static_cast<T*>(dk.data);
    T* pdv = static_cast<T*>(dv.data);
    const C sc = scale;
    auto qrow = [&](int64_t t, int64_t h) { return pq + (t * s.Hq + h) * s.D; };
    auto dorow = [&](int64_t t, int64_t h) { return pdo + (t * s.Hq + h) * s.D; };
    auto krow = [&](int64_t j, int64_t g) { return pk + (j * s.Hkv + g) * s.D; };
    auto vrow = [&](int64_t j, int64_t g) { return pv + (j * s.Hkv + g) * s.D; };

    // delta[h, t] = rowsum(dO * O)
    std::vector<C> delta(s.Hq * s.T);
#pragma omp parallel for collapse(2)
    for (int64_t h = 0; h < s.Hq; ++h)
      for (int64_t t = 0; t < s.T; ++t)
        delta[h * s.T + t] = dot(dorow(t, h), po + (t * s.Hq + h) * s.D, s.D);

    // dS[t, j] for query head h (recomputed in both passes below).
    auto dscore = [&](int64_t h, int64_t t, int64_t j, C& p) {
      const int64_t g = h / s.group();
      p = std::exp(sc * dot(qrow(t, h), krow(j, g), s.D) - pl[h * s.T + t]);
      return p * (dot(dorow(t, h), vrow(j, g), s.D) - delta[h * s.T + t]);
    };

    // dq[t] = scale * sum_j dS[t, j] k[j]   (each thread owns its query rows)
#pragma omp parallel
    {
      std::vector<C> acc(s.D);
#pragma omp for collapse(2) schedule(dynamic, 8)
      for (int64_t h = 0; h < s.Hq; ++h)
        for (int64_t t = 0; t < s.T; ++t) {
          const int64_t g = h / s.group();
          std::fill(acc.begin(), acc.end(), C(0));
          for (int64_t j = ds[t]; j <= t; ++j) {
            C p;
            const C dsc = dscore(h, t, j, p);
            const T* kr = krow(j, g);
            for (int64_t i = 0; i < s.D; ++i) acc[i] += dsc * to_compute(kr[i]);
          }
          T* out_row = pdq + (t * s.Hq + h) * s.D;
          for (int64_t i = 0; i < s.D; ++i) out_row[i] = from_compute<T>(sc * acc[i]);
        }
    }

    // dk[j] = scale * sum_{h in group, t sees j} dS[t, j] q[t];  dv[j] = sum P[t, j] dO[t]
    // (each thread owns its key rows; queries seeing key j satisfy j <= t and doc_start[t] <= j)
#pragma omp parallel
    {
      std::vector<C> acck(s.D), accv(s.D);
#pragma omp for collapse(2) schedule(dynamic, 8)
      for (int64_t g = 0; g < s.Hkv; ++g)
        for (int64_t j = 0; j < s.T; ++j) {
          std::fill(acck.begin(), acck.end(), C(0));
          std::fill(accv.begin(), accv.end(), C(0));
          for (int64_t h = g * s.group(); h < (g + 1) * s.group(); ++h)
            for (int64_t t = j; t < s.T; ++t) {
              if (ds[t] > j) continue;
              C p;
              const C dsc = dscore(h, t, j, p);
              const T* qr = qrow(t, h);
              const T* dor = dorow(t, h);
              for (int64_t i = 0; i < s.D; ++i) {
                acck[i] += dsc * to_compute(qr[i]);
                accv[i] += p * to_compute(dor[i]);
              }
            }
          T* dkr = pdk + (j * s.Hkv + g) * s.D;
          T* dvr = pdv + (j * s.Hkv + g) * s.D;
          for (int64_t i = 0; i < s.D; ++i) {
            dkr[i] = from_compute<T>(sc * acck[i]);
            dvr[i] = from_compute<T>(accv[i]);
          }
        }
    }
  });
}

}  // namespace wm::cpu
