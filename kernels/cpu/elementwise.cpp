// fill, copy, convert, add, scale, sum_squares, has_nonfinite.
#include <cmath>
#include <cstring>

#include "kernels/cpu/cpu_backend.h"
#include "kernels/cpu/cpu_common.h"

namespace wm::cpu {

void CpuBackend::fill(Tensor x, double value) {
  check_cpu("fill", "x", x);
  const int64_t n = x.numel();
  auto fill_as = [&]<class T>(T v) {
    T* p = static_cast<T*>(x.data);
    for (int64_t i = 0; i < n; ++i) p[i] = v;
  };
  switch (x.dtype) {
    case DType::F32: fill_as(static_cast<float>(value)); break;
    case DType::F64: fill_as(value); break;
    case DType::BF16: fill_as(float_to_bf16(static_cast<float>(value))); break;
    case DType::F16: fill_as(float_to_f16(static_cast<float>(value))); break;
    case DType::I32: fill_as(static_cast<int32_t>(value)); break;
    case DType::I64: fill_as(static_cast<int64_t>(value)); break;
  }
}

void CpuBackend::copy(Tensor dst, const Tensor& src) {
  check_cpu("copy", "dst", dst);
  check_cpu("copy", "src", src);
  if (dst.dtype != src.dtype || dst.numel() != src.numel())
    fail("copy", "dst " + dst.describe() + " and src " + src.describe() + " differ in dtype or numel");
  if (dst.nbytes() && dst.data != src.data) std::memmove(dst.data, src.data, dst.nbytes());
}

void CpuBackend::convert(Tensor dst, const Tensor& src) {
  check_float("convert", "dst", dst);
  check_float("convert", "src", src);
  if (dst.numel() != src.numel())
    fail("convert", "dst " + dst.describe() + " and src " + src.describe() + " differ in numel");
  const int64_t n = src.numel();
  dispatch_float("convert", src, true, [&]<class S>() {
    dispatch_float("convert", dst, true, [&]<class D>() {
      const S* s = static_cast<const S*>(src.data);
      D* d = static_cast<D*>(dst.data);
      // double -> bf16/f16 goes through float (a double rounding; irrelevant in practice).
#pragma omp parallel for if (n > (1 << 16))
      for (int64_t i = 0; i < n; ++i) d[i] = from_compute<D>(to_compute(s[i]));
    });
  });
}

void CpuBackend::add(Tensor y, const Tensor& x, float alpha) {
  check_float("add", "y", y);
  check_dtype("add", "x", x, y.dtype);
  check_numel("add", "x", x, y.numel());
  const int64_t n = y.numel();
  dispatch_float("add", y, true, [&]<class T>() {
    using C = compute_t<T>;
    T* py = static_cast<T*>(y.data);
    const T* px = static_cast<const T*>(x.data);
    const C a = alpha;
#pragma omp parallel for if (n > (1 << 16))
    for (int64_t i = 0; i < n; ++i) py[i] = from_compute<T>(to_compute(py[i]) + a * to_compute(px[i]));
  });
}

void CpuBackend::scale(Tensor x, float s) {
  check_float("scale", "x", x);
  const int64_t n = x.numel();
  dispatch_float("scale", x, true, [&]<class T>() {
    using C = compute_t<T>;
    T* p = static_cast<T*>(x.data);
    const C f = s;
#pragma omp parallel for if (n > (1 << 16))
    for (int64_t i = 0; i < n; ++i) p[i] = from_compute<T>(to_compute(p[i]) * f);
  });
}

double CpuBackend::sum_squares(const Tensor& x) {
  check_float("sum_squares", "x", x);
  const int64_t n = x.numel();
  return dispatch_float("sum_squares", x, true, [&]<class T>() {
    const T* p = static_cast<const T*>(x.data);
    double total = 0.0;
#pragma omp parallel for reduction(+ : total) if (n > (1 << 16))
    for (int64_t i = 0; i < n; ++i) {
      const double v = to_compute(p[i]);
      total += v * v;
    }
    return total;
  });
}

bool CpuBackend::has_nonfinite(const Tensor& x) {
  check_float("has_nonfinite", "x", x);
  const int64_t n = x.numel();
  return dispatch_float("has_nonfinite", x, true, [&]<class T>() {
    const T* p = static_cast<const T*>(x.data);
    int64_t bad = 0;
#pragma omp parallel for reduction(+ : bad) if (n > (1 << 16))
    for (int64_t i = 0; i < n; ++i) bad += std::isfinite(to_compute(p[i])) ? 0 : 1;
    return bad > 0;
  });
}

}  // namespace wm::cpu
