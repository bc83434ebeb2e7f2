// fill, copy, convert, add, scale, sum_squares, has_nonfinite. Memory-bound: each thread handles
// chunks of 8 elements with 16-byte accesses when every pointer is 16-byte aligned, else scalars.
#include <cuda_fp16.h>

#include <vector>

#include "kernels/cuda/cuda_backend.h"
#include "kernels/cuda/cuda_common.cuh"

namespace wm::cuda {
namespace {

constexpr int kBlock = 256;

template <class T>
__global__ void fill_kernel(T* p, int64_t n, T v) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x)
    p[i] = v;
}

// y[i] = op(x[i], y[i]) over n elements; X, Y storage types; vectorised when `vec`.
template <class X, class Y, class Op>
__global__ void map_kernel(Y* y, const X* x, int64_t n, bool vec, Op op) {
  const int64_t stride = int64_t(gridDim.x) * blockDim.x;
  const int64_t tid = blockIdx.x * int64_t(blockDim.x) + threadIdx.x;
  int64_t done = 0;
  if (vec) {
    const int64_t nchunks = n / 8;
    for (int64_t c = tid; c < nchunks; c += stride) {
      float xv[8], yv[8];
      if (x) load8(x + c * 8, xv);
      load8(y + c * 8, yv);
#pragma unroll
      for (int i = 0; i < 8; ++i) yv[i] = op(x ? xv[i] : 0.0f, yv[i]);
      store8(y + c * 8, yv);
    }
    done = nchunks * 8;
  }
  for (int64_t i = done + tid; i < n; i += stride) y[i] = from_f<Y>(op(x ? to_f(x[i]) : 0.0f, to_f(y[i])));
}

template <class X, class Y, class Op>
void launch_map(const char* name, Y* y, const X* x, int64_t n, Op op) {
  if (n == 0) return;
  const bool vec = aligned16(y) && (x == nullptr || aligned16(x));
  map_kernel<<<grid_for(vec ? (n + 7) / 8 : n, kBlock, 4096), kBlock, 0, stream()>>>(y, x, n, vec, op);
  CUDA_CHECK_LAUNCH(name);
}

struct ConvertOp { __device__ float operator()(float x, float) const { return x; } };
struct AxpyOp {
  float alpha;
  __device__ float operator()(float x, float y) const { return y + alpha * x; }
};
struct ScaleOp {
  float s;
  __device__ float operator()(float, float y) const { return y * s; }
};

// Partial sums of squares per block into partial[blockIdx.x].
template <class T>
__global__ void sum_squares_kernel(float* partial, const T* x, int64_t n, bool vec) {
  __shared__ float red[32];
  const int64_t stride = int64_t(gridDim.x) * blockDim.x;
  const int64_t tid = blockIdx.x * int64_t(blockDim.x) + threadIdx.x;
  float acc = 0.0f;
  int64_t done = 0;
  if (vec) {
    const int64_t nchunks = n / 8;
    for (int64_t c = tid; c < nchunks; c += stride) {
      float v[8];
      load8(x + c * 8, v);
#pragma unroll
      for (int i = 0; i < 8; ++i) acc = fmaf(v[i], v[i], acc);
    }
    done = nchunks * 8;
  }
  for (int64_t i = done + tid; i < n; i += stride) {
    const float v = to_f(x[i]);
    acc = fmaf(v, v, acc);
  }
  acc = block_sum(acc, red);
  if (threadIdx.x == 0) partial[blockIdx.x] = acc;
}

__global__ void sum_partials_kernel(float* out, const float* partial, int n) {
  __shared__ float red[32];
  float acc = 0.0f;
  for (int i = threadIdx.x; i < n; i += blockDim.x) acc += partial[i];
  acc = block_sum(acc, red);
  if (threadIdx.x == 0) *out = acc;
}

template <class T>
__global__ void nonfinite_kernel(int* flag, const T* x, int64_t n) {
  bool bad = false;
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x)
    bad |= (__float_as_uint(to_f(x[i])) & 0x7f800000u) == 0x7f800000u;  // bit test: immune to fast-math
  if (__syncthreads_or(bad) && threadIdx.x == 0) *flag = 1;
}

}  // namespace

void CudaBackend::fill(Tensor x, double value) {
  check_cuda_tensor("fill", "x", x);
  const int64_t n = x.numel();
  if (n == 0) return;
  const unsigned grid = grid_for(n, kBlock, 4096);
  cudaStream_t s = stream();
  switch (x.dtype) {
    case DType::F32: fill_kernel<<<grid, kBlock, 0, s>>>(static_cast<float*>(x.data), n, float(value)); break;
    case DType::F64: fill_kernel<<<grid, kBlock, 0, s>>>(static_cast<double*>(x.data), n, value); break;
    case DType::BF16:
      fill_kernel<<<grid, kBlock, 0, s>>>(static_cast<uint16_t*>(x.data), n, float_to_bf16(float(value)).bits);
      break;
    case DType::F16:
      fill_kernel<<<grid, kBlock, 0, s>>>(static_cast<uint16_t*>(x.data), n, float_to_f16(float(value)).bits);
      break;
    case DType::I32: fill_kernel<<<grid, kBlock, 0, s>>>(static_cast<int32_t*>(x.data), n, int32_t(value)); break;
    case DType::I64: fill_kernel<<<grid, kBlock, 0, s>>>(static_cast<int64_t*>(x.data), n, int64_t(value)); break;
  }
  CUDA_CHECK_LAUNCH("fill_kernel");
}

void CudaBackend::copy(Tensor dst, const Tensor& src) {
  if (!dst.defined() || !src.defined()) fail("copy", "dst " + dst.describe() + " or src " + src.describe() + " has no data");
  if (dst.device != Device::CUDA && src.device != Device::CUDA)
    fail("copy", "neither dst " + dst.describe() + " nor src " + src.describe() + " is a CUDA tensor");
  if (dst.dtype != src.dtype || dst.numel() != src.numel())
    fail("copy", "dst " + dst.describe() + " and src " + src.describe() + " differ in dtype or numel");
  if (dst.nbytes() == 0 || dst.data == src.data) return;
  // Unified addressing: cudaMemcpyDefault infers host->device, device->host, device->device.
  CUDA_CHECK(cudaMemcpyAsync(dst.data, src.data, dst.nbytes(), cudaMemcpyDefault, stream()));
  // A host side (pageable memory) must be complete when we return: the caller owns it.
  if (dst.device == Device::CPU || src.device == Device::CPU) CUDA_CHECK(cudaStreamSynchronize(stream()));
}

void CudaBackend::convert(Tensor dst, const Tensor& src) {
  check_float("convert", "dst", dst);
  check_float("convert", "src", src);
  check_numel("convert", "src", src, dst.numel());
  if (dst.dtype == src.dtype) return copy(dst, src);
  const int64_t n = dst.numel();
  dispatch_float("convert", src, [&]<class S>() {
    dispatch_float("convert", dst, [&]<class D>() {
      launch_map("convert", static_cast<D*>(dst.data), static_cast<const S*>(src.data), n, ConvertOp{});
    });
  });
}

void CudaBackend::add(Tensor y, const Tensor& x, float alpha) {
  check_float("add", "y", y);
  check_dtype("add", "x", x, y.dtype);
  check_numel("add", "x", x, y.numel());
  dispatch_float("add", y, [&]<class T>() {
    launch_map("add", static_cast<T*>(y.data), static_cast<const T*>(x.data), y.numel(), AxpyOp{alpha});
  });
}

void CudaBackend::scale(Tensor x, float s) {
  check_float("scale", "x", x);
  dispatch_float("scale", x, [&]<class T>() {
    launch_map("scale", static_cast<T*>(x.data), static_cast<const T*>(nullptr), x.numel(), ScaleOp{s});
  });
}

double CudaBackend::sum_squares(const Tensor& x) {
  check_float("sum_squares", "x", x);
  const int64_t n = x.numel();
  if (n == 0) return 0.0;
  auto& ctx = CudaContext::get();
  const bool vec = aligned16(x.data);
  const unsigned grid = grid_for(vec ? (n + 7) / 8 : n, kBlock, 1024);
  float* partial = static_cast<float*>(ctx.workspace((grid + 1) * sizeof(float)));
  dispatch_float("sum_squares", x, [&]<class T>() {
    sum_squares_kernel<<<grid, kBlock, 0, ctx.stream()>>>(partial, static_cast<const T*>(x.data), n, vec);
  });
  CUDA_CHECK_LAUNCH("sum_squares_kernel");
  sum_partials_kernel<<<1, 1024, 0, ctx.stream()>>>(partial + grid, partial, int(grid));
  CUDA_CHECK_LAUNCH("sum_partials_kernel");
  float result = 0.0f;
  CUDA_CHECK(cudaMemcpyAsync(&result, partial + grid, sizeof(float), cudaMemcpyDeviceToHost, ctx.stream()));
  ctx.synchronize_and_check();
  return result;
}

bool CudaBackend::has_nonfinite(const Tensor& x) {
  check_float("has_nonfinite", "x", x);
  const int64_t n = x.numel();
  if (n == 0) return false;
  auto& ctx = CudaContext::get();
  int* flag = static_cast<int*>(ctx.workspace(sizeof(int)));
  CUDA_CHECK(cudaMemsetAsync(flag, 0, sizeof(int), ctx.stream()));
  dispatch_float("has_nonfinite", x, [&]<class T>() {
    nonfinite_kernel<<<grid_for(n, kBlock, 2048), kBlock, 0, ctx.stream()>>>(flag, static_cast<const T*>(x.data), n);
  });
  CUDA_CHECK_LAUNCH("nonfinite_kernel");
  int result = 0;
  CUDA_CHECK(cudaMemcpyAsync(&result, flag, sizeof(int), cudaMemcpyDeviceToHost, ctx.stream()));
  ctx.synchronize_and_check();
  return result != 0;
}

}  // namespace wm::cuda
