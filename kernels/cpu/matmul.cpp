// C[M, N] = alpha * op(A) @ op(B) + beta * C, row-major, op(X) = X or X^T.
//
// A cache-blocked GEMM in the classic packed form:
//   for each C tile [MC x NC] (in parallel):
//     for each K block of KC:
//       pack A[MC x KC] into MR-row strips  (Ap[strip][k][MR])
//       pack B[KC x NC] into NR-col strips  (Bp[strip][k][NR])
//       for each NR strip, for each MR strip: an MR x NR register tile += strip products
// Packing also converts bf16/f16 inputs to fp32, so every dtype shares one inner kernel, and the
// transposes only change how panels are read. The inner kernel is plain C++ that the compiler
// vectorises; it is compiled for AVX2/AVX-512 as well and picked at run time (target_clones).
#include <algorithm>
#include <memory>

#include "kernels/cpu/cpu_backend.h"
#include "kernels/cpu/cpu_common.h"

namespace wm::cpu {
namespace {

constexpr int64_t MR = 6, NR = 16;            // register tile
constexpr int64_t MC = 96, KC = 256, NC = 512;  // cache blocks (MC % MR == 0, NC % NR == 0)

// Element (i, k) of op(X) for a row-major X with leading dimension ld.
template <class S>
inline auto at(const S* x, int64_t ld, bool trans, int64_t i, int64_t k) {
  return to_compute(trans ? x[k * ld + i] : x[i * ld + k]);
}

// Ap[strip s][k][r] = op(A)[i0 + s*MR + r, k0 + k], zero-padded past mc.
template <class S, class C>
void pack_a(C* ap, const S* a, int64_t lda, bool trans, int64_t i0, int64_t mc, int64_t k0, int64_t kc) {
  for (int64_t s = 0; s < mc; s += MR) {
    const int64_t rows = std::min(MR, mc - s);
    C* dst = ap + s * kc;
    for (int64_t k = 0; k < kc; ++k)
      for (int64_t r = 0; r < MR; ++r)
        dst[k * MR + r] = r < rows ? at(a, lda, trans, i0 + s + r, k0 + k) : C(0);
  }
}

// Bp[strip s][k][c] = op(B)[k0 + k, j0 + s*NR + c], zero-padded past nc.
// op(B)[k, j] = B[k, j] (no transpose) or B[j, k] (transpose).
template <class S, class C>
void pack_b(C* bp, const S* b, int64_t ldb, bool trans, int64_t k0, int64_t kc, int64_t j0, int64_t nc) {
  for (int64_t s = 0; s < nc; s += NR) {
    const int64_t cols = std::min(NR, nc - s);
    C* dst = bp + s * kc;
    for (int64_t k = 0; k < kc; ++k)
      for (int64_t c = 0; c < NR; ++c)
        dst[k * NR + c] = c < cols ? at(b, ldb, !trans, j0 + s + c, k0 + k) : C(0);
  }
}

// ct[mc x nc] (leading dim NC) += Ap @ Bp over kc.
template <class C>
inline __attribute__((always_inline)) void block_kernel_impl(int64_t mc, int64_t nc, int64_t kc,
                                                             const C* ap, const C* bp, C* ct) {
  for (int64_t jr = 0; jr < nc; jr += NR) {
    const C* b = bp + jr * kc;
    const int64_t cols = std::min(NR, nc - jr);
    for (int64_t ir = 0; ir < mc; ir += MR) {
      const C* a = ap + ir * kc;
      C acc[MR][NR] = {};
      for (int64_t k = 0; k < kc; ++k) {
        const C* bk = b + k * NR;
        const C* ak = a + k * MR;
        for (int64_t r = 0; r < MR; ++r) {
          const C ar = ak[r];
#pragma omp simd
          for (int64_t c = 0; c < NR; ++c) acc[r][c] += ar * bk[c];
        }
      }
      const int64_t rows = std::min(MR, mc - ir);
      for (int64_t r = 0; r < rows; ++r)
        for (int64_t c = 0; c < cols; ++c) ct[(ir + r) * NC + jr + c] += acc[r][c];
    }
  }
}

WM_MULTIVERSION void block_kernel(int64_t mc, int64_t nc, int64_t kc, const float* ap, const float* bp, float* ct) {
  block_kernel_impl(mc, nc, kc, ap, bp, ct);
}
WM_MULTIVERSION void block_kernel(int64_t mc, int64_t nc, int64_t kc, const double* ap, const double* bp, double* ct) {
  block_kernel_impl(mc, nc, kc, ap, bp, ct);
}

// S: storage type of A and B; D: storage type of C.
template <class S, class D>
void gemm(D* c, const S* a, const S* b, int64_t M, int64_t N, int64_t K, bool trans_a, bool trans_b,
          float alpha, float beta) {
  using C = compute_t<S>;
  const int64_t lda = trans_a ? M : K, ldb = trans_b ? K : N;
  const int64_t tiles_m = (M + MC - 1) / MC, tiles_n = (N + NC - 1) / NC;
#pragma omp parallel if (tiles_m * tiles_n > 1)
  {
    // per-thread panels (uninitialised: packing writes every element that is read)
    const auto ap = std::make_unique_for_overwrite<C[]>(MC * KC);
    const auto bp = std::make_unique_for_overwrite<C[]>(KC * NC);
    const auto ct = std::make_unique_for_overwrite<C[]>(MC * NC);
#pragma omp for collapse(2) schedule(dynamic, 1)
    for (int64_t tm = 0; tm < tiles_m; ++tm)
      for (int64_t tn = 0; tn < tiles_n; ++tn) {
        const int64_t i0 = tm * MC, j0 = tn * NC;
        const int64_t mc = std::min(MC, M - i0), nc = std::min(NC, N - j0);
        std::fill(ct.get(), ct.get() + MC * NC, C(0));
        for (int64_t k0 = 0; k0 < K; k0 += KC) {
          const int64_t kc = std::min(KC, K - k0);
          pack_a(ap.get(), a, lda, trans_a, i0, mc, k0, kc);
          pack_b(bp.get(), b, ldb, trans_b, k0, kc, j0, nc);
          block_kernel(mc, nc, kc, ap.get(), bp.get(), ct.get());
        }
        for (int64_t i = 0; i < mc; ++i) {
          D* crow = c + (i0 + i) * N + j0;
          const C* trow = ct.get() + i * NC;
          if (beta == 0.0f) {  // C's old contents are ignored (they may be uninitialised)
            for (int64_t j = 0; j < nc; ++j) crow[j] = from_compute<D>(C(alpha) * trow[j]);
          } else {
            for (int64_t j = 0; j < nc; ++j)
              crow[j] = from_compute<D>(C(alpha) * trow[j] + C(beta) * to_compute(crow[j]));
          }
        }
      }
  }
}

}  // namespace

void CpuBackend::matmul(Tensor c, const Tensor& a, const Tensor& b, bool trans_a, bool trans_b,
                        float alpha, float beta) {
  const char* op = "matmul";
  check_float(op, "a", a);
  check_float(op, "b", b);
  check_float(op, "c", c);
  check_rank(op, "a", a, 2);
  check_rank(op, "b", b, 2);
  check_rank(op, "c", c, 2);
  if (b.dtype != a.dtype) fail(op, "a " + a.describe() + " and b " + b.describe() + " must share a dtype");
  if (c.dtype != a.dtype && c.dtype != DType::F32)
    fail(op, "c must be " + std::string(dtype_name(a.dtype)) + " or f32, got " + c.describe());
  const int64_t M = trans_a ? a.size(1) : a.size(0), K = trans_a ? a.size(0) : a.size(1);
  const int64_t Kb = trans_b ? b.size(1) : b.size(0), N = trans_b ? b.size(0) : b.size(1);
  if (K != Kb || c.size(0) != M || c.size(1) != N)
    fail(op, "shapes do not match: c " + c.describe() + " = op(a " + a.describe() + (trans_a ? ")^T" : ")") +
                 " @ op(b " + b.describe() + (trans_b ? ")^T" : ")"));
  if (c.data == a.data || c.data == b.data) fail(op, "c " + c.describe() + " must not alias a or b");
  if (M == 0 || N == 0) return;
  dispatch_float(op, a, true, [&]<class S>() {
    const S* pa = static_cast<const S*>(a.data);
    const S* pb = static_cast<const S*>(b.data);
    if (c.dtype == DType::F32)
      gemm(static_cast<float*>(c.data), pa, pb, M, N, K, trans_a, trans_b, alpha, beta);
    else
      gemm(static_cast<S*>(c.data), pa, pb, M, N, K, trans_a, trans_b, alpha, beta);
  });
}

}  // namespace wm::cpu
