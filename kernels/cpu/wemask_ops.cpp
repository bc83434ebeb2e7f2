// WeMask helpers: scale chosen (row, dim) entries, and the mean |x| over chosen rows.
#include <cmath>
#include <string>
#include <vector>

#include "kernels/cpu/cpu_backend.h"
#include "kernels/cpu/cpu_common.h"

namespace wm::cpu {
namespace {

void check_indices(const char* op, const char* name, const Tensor& idx, int64_t limit) {
  check_dtype(op, name, idx, DType::I32);
  check_rank(op, name, idx, 1);
  const int32_t* p = idx.ptr<const int32_t>();
  for (int64_t i = 0; i < idx.numel(); ++i)
    if (p[i] < 0 || p[i] >= limit)
      throw std::out_of_range(std::string(op) + ": " + name + "[" + std::to_string(i) + "] = " +
                              std::to_string(p[i]) + " is outside [0, " + std::to_string(limit) + ")");
}

}  // namespace

void CpuBackend::scale_entries(Tensor x, const Tensor& rows, const Tensor& dims, float factor) {
  const char* op = "scale_entries";
  check_float(op, "x", x);
  check_rank(op, "x", x, 2);
  const int64_t N = x.size(0), d = x.size(1);
  check_indices(op, "rows", rows, N);
  check_indices(op, "dims", dims, d);
  const int32_t* pr = rows.ptr<const int32_t>();
  const int32_t* pd = dims.ptr<const int32_t>();
  dispatch_float(op, x, true, [&]<class T>() {
    using C = compute_t<T>;
    T* px = static_cast<T*>(x.data);
    for (int64_t r = 0; r < rows.numel(); ++r)
      for (int64_t k = 0; k < dims.numel(); ++k) {
        T& e = px[static_cast<int64_t>(pr[r]) * d + pd[k]];
        e = from_compute<T>(to_compute(e) * static_cast<C>(factor));
      }
  });
}

void CpuBackend::mean_abs_rows(Tensor out, const Tensor& x, const Tensor& rows) {
  const char* op = "mean_abs_rows";
  check_float(op, "x", x);
  check_rank(op, "x", x, 2);
  const int64_t N = x.size(0), d = x.size(1);
  check_indices(op, "rows", rows, N);
  if (rows.numel() == 0) fail(op, "rows is empty: the mean over no rows is undefined");
  check_float(op, "out", out);
  check_shape(op, "out", out, {d});
  if (out.dtype != DType::F32 && !(out.dtype == DType::F64 && x.dtype == DType::F64))
    fail(op, "out must be f32 (or f64 for f64 x), got " + out.describe());
  const int32_t* pr = rows.ptr<const int32_t>();
  std::vector<double> sum(d, 0.0);
  dispatch_float(op, x, true, [&]<class T>() {
    const T* px = static_cast<const T*>(x.data);
    for (int64_t r = 0; r < rows.numel(); ++r)
      for (int64_t j = 0; j < d; ++j) sum[j] += std::fabs(static_cast<double>(to_compute(px[pr[r] * d + j])));
  });
  const double inv = 1.0 / static_cast<double>(rows.numel());
  for (int64_t j = 0; j < d; ++j) {
    if (out.dtype == DType::F64) out.ptr<double>()[j] = sum[j] * inv;
    else out.ptr<float>()[j] = static_cast<float>(sum[j] * inv);
  }
}

}  // namespace wm::cpu
