// WeMask helpers: scale_entries (x[rows[r], dims[k]] *= factor) and mean_abs_rows
// (out[c] = mean_r |x[rows[r], c]|). Indices are device data: out-of-range ones raise the device
// error flag (thrown at the next synchronize) and are skipped. rows/dims are expected to be
// duplicate-free for scale_entries (a duplicate would race).
#include "kernels/cuda/cuda_backend.h"
#include "kernels/cuda/cuda_common.cuh"

namespace wm::cuda {
namespace {

template <class T>
__global__ void scale_entries_kernel(T* x, const int* rows, const int* dims, int R, int K, int64_t N, int64_t d,
                                     float factor, int* error_flag) {
  const int64_t idx = blockIdx.x * int64_t(blockDim.x) + threadIdx.x;
  if (idx >= int64_t(R) * K) return;
  const int r = rows[idx / K], c = dims[idx % K];
  if (r < 0 || r >= N || c < 0 || c >= d) { raise_error(error_flag, kRowIndexOutOfRange); return; }
  T* p = x + int64_t(r) * d + c;
  *p = from_f<T>(to_f(*p) * factor);
}

template <class T>
__global__ void mean_abs_rows_kernel(float* out, const T* x, const int* rows, int R, int64_t N, int64_t d,
                                     int* error_flag) {
  const int64_t c = blockIdx.x * int64_t(blockDim.x) + threadIdx.x;
  if (c >= d) return;
  float acc = 0.0f;
  for (int r = 0; r < R; ++r) {
    const int row = rows[r];
    if (row < 0 || row >= N) { raise_error(error_flag, kRowIndexOutOfRange); continue; }
    acc += fabsf(to_f(x[int64_t(row) * d + c]));
  }
  out[c] = R > 0 ? acc / float(R) : 0.0f;
}

}  // namespace

void CudaBackend::scale_entries(Tensor x, const Tensor& rows, const Tensor& dims, float factor) {
  const char* op = "scale_entries";
  check_float(op, "x", x);
  check_rank(op, "x", x, 2);
  check_dtype(op, "rows", rows, DType::I32);
  check_dtype(op, "dims", dims, DType::I32);
  const int64_t R = rows.numel(), K = dims.numel();
  if (R * K == 0) return;
  auto& ctx = CudaContext::get();
  dispatch_float(op, x, [&]<class T>() {
    scale_entries_kernel<<<grid_for(R * K, 256, INT32_MAX), 256, 0, ctx.stream()>>>(
        static_cast<T*>(x.data), rows.ptr<const int32_t>(), dims.ptr<const int32_t>(), int(R), int(K), x.size(0),
        x.size(1), factor, ctx.error_flag());
  });
  CUDA_CHECK_LAUNCH("scale_entries_kernel");
}

void CudaBackend::mean_abs_rows(Tensor out, const Tensor& x, const Tensor& rows) {
  const char* op = "mean_abs_rows";
  check_float(op, "x", x);
  check_rank(op, "x", x, 2);
  check_dtype(op, "rows", rows, DType::I32);
  check_dtype(op, "out", out, DType::F32);
  check_numel(op, "out", out, x.size(1));
  const int64_t d = x.size(1);
  if (d == 0) return;
  auto& ctx = CudaContext::get();
  dispatch_float(op, x, [&]<class T>() {
    mean_abs_rows_kernel<<<grid_for(d, 256, INT32_MAX), 256, 0, ctx.stream()>>>(
        static_cast<float*>(out.data), static_cast<const T*>(x.data), rows.ptr<const int32_t>(), int(rows.numel()),
        x.size(0), d, ctx.error_flag());
  });
  CUDA_CHECK_LAUNCH("mean_abs_rows_kernel");
}

}  // namespace wm::cuda
