// RMSNorm as Qwen3 computes it: rstd in fp32 (fp64 for F64), y = w * cast_to_x_dtype(x * rstd).
#include <algorithm>
#include <cmath>

#include "kernels/cpu/cpu_backend.h"
#include "kernels/cpu/cpu_common.h"

namespace wm::cpu {

void CpuBackend::rmsnorm_forward(Tensor y, Tensor rstd, const Tensor& x, const Tensor& w, float eps) {
  const char* op = "rmsnorm_forward";
  check_float(op, "x", x);
  check_rank(op, "x", x, 2);
  const int64_t N = x.size(0), d = x.size(1);
  check_dtype(op, "y", y, x.dtype);
  check_shape(op, "y", y, {N, d});
  check_dtype(op, "w", w, x.dtype);
  check_shape(op, "w", w, {d});
  check_shape(op, "rstd", rstd, {N});
  dispatch_float(op, x, true, [&]<class T>() {
    using C = compute_t<T>;
    check_dtype(op, "rstd", rstd, stat_dtype<T>());
    const T* px = static_cast<const T*>(x.data);
    const T* pw = static_cast<const T*>(w.data);
    T* py = static_cast<T*>(y.data);
    C* pr = static_cast<C*>(rstd.data);
#pragma omp parallel for if (N * d > (1 << 15))
    for (int64_t n = 0; n < N; ++n) {
      const T* xr = px + n * d;
      double ss = 0.0;
      for (int64_t j = 0; j < d; ++j) {
        const double v = to_compute(xr[j]);
        ss += v * v;
      }
      const C r = C(1) / std::sqrt(static_cast<C>(ss / static_cast<double>(d)) + static_cast<C>(eps));
      pr[n] = r;
      for (int64_t j = 0; j < d; ++j) {
        const C normed = to_compute(from_compute<T>(to_compute(xr[j]) * r));  // cast to x's dtype
        py[n * d + j] = from_compute<T>(to_compute(pw[j]) * normed);
      }
    }
  });
}

void CpuBackend::rmsnorm_backward(Tensor dx, Tensor dw, const Tensor& dy, const Tensor& x,
                                  const Tensor& w, const Tensor& rstd, bool accumulate_dx) {
  const char* op = "rmsnorm_backward";
  check_float(op, "x", x);
  check_rank(op, "x", x, 2);
  const int64_t N = x.size(0), d = x.size(1);
  check_dtype(op, "dx", dx, x.dtype);
  check_shape(op, "dx", dx, {N, d});
  check_dtype(op, "dy", dy, x.dtype);
  check_shape(op, "dy", dy, {N, d});
  check_dtype(op, "w", w, x.dtype);
  check_shape(op, "w", w, {d});
  check_shape(op, "rstd", rstd, {N});
  check_float(op, "dw", dw);
  check_shape(op, "dw", dw, {d});
  if (dw.dtype != x.dtype && dw.dtype != DType::F32)
    fail(op, "dw must be " + std::string(dtype_name(x.dtype)) + " or f32, got " + dw.describe());
  dispatch_float(op, x, true, [&]<class T>() {
    using C = compute_t<T>;
    check_dtype(op, "rstd", rstd, stat_dtype<T>());
    const T* px = static_cast<const T*>(x.data);
    const T* pw = static_cast<const T*>(w.data);
    const T* pdy = static_cast<const T*>(dy.data);
    T* pdx = static_cast<T*>(dx.data);
    const C* pr = static_cast<const C*>(rstd.data);

    // dx = rstd * (dn - n * mean(dn . n)), with n = x * rstd and dn = dy * w.
#pragma omp parallel for if (N * d > (1 << 15))
    for (int64_t n = 0; n < N; ++n) {
      const T* xr = px + n * d;
      const T* gr = pdy + n * d;
      const C r = pr[n];
      double dot = 0.0;
      for (int64_t j = 0; j < d; ++j)
        dot += static_cast<double>(to_compute(gr[j]) * to_compute(pw[j])) * (to_compute(xr[j]) * r);
      const C mean = static_cast<C>(dot / static_cast<double>(d));
      for (int64_t j = 0; j < d; ++j) {
        const C dn = to_compute(gr[j]) * to_compute(pw[j]);
        const C nj = to_compute(xr[j]) * r;
        const C v = r * (dn - nj * mean);
        pdx[n * d + j] = from_compute<T>(accumulate_dx ? to_compute(pdx[n * d + j]) + v : v);
      }
    }

    // dw += sum_n dy * cast(x * rstd); threads own column ranges.
    dispatch_float(op, dw, true, [&]<class G>() {
      G* pdw = static_cast<G*>(dw.data);
#pragma omp parallel for if (N * d > (1 << 15))
      for (int64_t j0 = 0; j0 < d; j0 += 64) {
        const int64_t j1 = std::min(d, j0 + 64);
        double acc[64] = {};
        for (int64_t n = 0; n < N; ++n)
          for (int64_t j = j0; j < j1; ++j) {
            const C normed = to_compute(from_compute<T>(to_compute(px[n * d + j]) * pr[n]));
            acc[j - j0] += static_cast<double>(to_compute(pdy[n * d + j]) * normed);
          }
        for (int64_t j = j0; j < j1; ++j) pdw[j] = from_compute<G>(to_compute(pdw[j]) + acc[j - j0]);
      }
    });
  });
}

}  // namespace wm::cpu
