// Cross-entropy over the vocabulary, one row per token: loss = lse - logits[target].
// Rows whose target is ignore_index get loss 0 (and lse 0) and a zero gradient.
#include <algorithm>
#include <cmath>
#include <limits>
#include <string>
#include <type_traits>

#include "kernels/cpu/cpu_backend.h"
#include "kernels/cpu/cpu_common.h"
#include "kernels/cpu/fast_exp.h"

namespace wm::cpu {
namespace {

// ---- row kernels. fp32 rows take the vectorised path (exp_fast), others convert per element.
WM_MULTIVERSION float row_max_f32(const float* x, int64_t n) {
  float m = -std::numeric_limits<float>::infinity();
#pragma omp simd reduction(max : m)
  for (int64_t i = 0; i < n; ++i) m = std::max(m, x[i]);
  return m;
}

WM_MULTIVERSION double row_sum_exp_f32(const float* x, int64_t n, float shift) {
  double sum = 0.0;
#pragma omp simd reduction(+ : sum)
  for (int64_t i = 0; i < n; ++i) sum += exp_fast(x[i] - shift);
  return sum;
}

// g[i] = exp(x[i] - lse) * w   (g may alias x)
WM_MULTIVERSION void row_softmax_scaled_f32(float* g, const float* x, int64_t n, float lse, float w) {
#pragma omp simd
  for (int64_t i = 0; i < n; ++i) g[i] = exp_fast(x[i] - lse) * w;
}

inline float exp_c(float x) { return exp_fast(x); }
inline double exp_c(double x) { return std::exp(x); }

template <class T, class C = compute_t<T>>
C row_max(const T* x, int64_t n) {
  if constexpr (std::is_same_v<T, float>) return row_max_f32(x, n);
  C m = -std::numeric_limits<C>::infinity();
  for (int64_t i = 0; i < n; ++i) m = std::max(m, to_compute(x[i]));
  return m;
}

template <class T, class C = compute_t<T>>
double row_sum_exp(const T* x, int64_t n, C shift) {
  if constexpr (std::is_same_v<T, float>) return row_sum_exp_f32(x, n, shift);
  double sum = 0.0;
  for (int64_t i = 0; i < n; ++i) sum += exp_c(to_compute(x[i]) - shift);
  return sum;
}

template <class T, class G, class C = compute_t<T>>
void row_softmax_scaled(G* g, const T* x, int64_t n, C lse, C w) {
  if constexpr (std::is_same_v<T, float> && std::is_same_v<G, float>) {
    row_softmax_scaled_f32(g, x, n, lse, w);
  } else {
    for (int64_t i = 0; i < n; ++i) g[i] = from_compute<G>(exp_c(to_compute(x[i]) - lse) * w);
  }
}

void check_targets(const char* op, const Tensor& targets, int64_t N, int64_t V, int ignore_index) {
  check_dtype(op, "targets", targets, DType::I32);
  check_shape(op, "targets", targets, {N});
  const int32_t* p = targets.ptr<const int32_t>();
  for (int64_t n = 0; n < N; ++n)
    if (p[n] != ignore_index && (p[n] < 0 || p[n] >= V))
      throw std::out_of_range(std::string(op) + ": target " + std::to_string(p[n]) + " at row " +
                              std::to_string(n) + " is outside the vocabulary of size " + std::to_string(V) +
                              " (and is not ignore_index " + std::to_string(ignore_index) + ")");
}

}  // namespace

void CpuBackend::cross_entropy_forward(Tensor losses, Tensor lse, const Tensor& logits,
                                       const Tensor& targets, int ignore_index) {
  const char* op = "cross_entropy_forward";
  check_float(op, "logits", logits);
  check_rank(op, "logits", logits, 2);
  const int64_t N = logits.size(0), V = logits.size(1);
  check_targets(op, targets, N, V, ignore_index);
  check_shape(op, "losses", losses, {N});
  check_shape(op, "lse", lse, {N});
  const int32_t* tgt = targets.ptr<const int32_t>();
  dispatch_float(op, logits, true, [&]<class T>() {
    using C = compute_t<T>;
    check_dtype(op, "losses", losses, stat_dtype<T>());
    check_dtype(op, "lse", lse, stat_dtype<T>());
    const T* px = static_cast<const T*>(logits.data);
    C* pl = static_cast<C*>(losses.data);
    C* ps = static_cast<C*>(lse.data);
#pragma omp parallel for schedule(dynamic, 1)
    for (int64_t n = 0; n < N; ++n) {
      if (tgt[n] == ignore_index) {
        pl[n] = 0;
        ps[n] = 0;
        continue;
      }
      const T* row = px + n * V;
      const C m = row_max(row, V);
      const double sum = row_sum_exp(row, V, m);
      const C row_lse = m + static_cast<C>(std::log(sum));
      ps[n] = row_lse;
      pl[n] = row_lse - to_compute(row[tgt[n]]);
    }
  });
}

void CpuBackend::cross_entropy_backward(Tensor dlogits, const Tensor& logits, const Tensor& lse,
                                        const Tensor& targets, const Tensor& dloss, int ignore_index) {
  const char* op = "cross_entropy_backward";
  check_float(op, "logits", logits);
  check_rank(op, "logits", logits, 2);
  const int64_t N = logits.size(0), V = logits.size(1);
  check_targets(op, targets, N, V, ignore_index);
  check_float(op, "dlogits", dlogits);
  check_shape(op, "dlogits", dlogits, {N, V});
  if (dlogits.data == logits.data && dlogits.dtype != logits.dtype)
    fail(op, "dlogits " + dlogits.describe() + " aliases logits " + logits.describe() + " with another dtype");
  check_shape(op, "lse", lse, {N});
  check_shape(op, "dloss", dloss, {N});
  const int32_t* tgt = targets.ptr<const int32_t>();
  dispatch_float(op, logits, true, [&]<class T>() {
    using C = compute_t<T>;
    check_dtype(op, "lse", lse, stat_dtype<T>());
    check_dtype(op, "dloss", dloss, stat_dtype<T>());
    const C* ps = static_cast<const C*>(lse.data);
    const C* pd = static_cast<const C*>(dloss.data);
    dispatch_float(op, dlogits, true, [&]<class G>() {
      const T* px = static_cast<const T*>(logits.data);
      G* pg = static_cast<G*>(dlogits.data);
#pragma omp parallel for schedule(dynamic, 1)
      for (int64_t n = 0; n < N; ++n) {
        const T* row = px + n * V;
        G* grow = pg + n * V;
        if (tgt[n] == ignore_index) {
          for (int64_t j = 0; j < V; ++j) grow[j] = from_compute<G>(C(0));
          continue;
        }
        const C row_lse = ps[n], w = pd[n];
        const C at_target = (exp_c(to_compute(row[tgt[n]]) - row_lse) - C(1)) * w;
        row_softmax_scaled(grow, row, V, row_lse, w);
        grow[tgt[n]] = from_compute<G>(at_target);
      }
    });
  });
}

}  // namespace wm::cpu
