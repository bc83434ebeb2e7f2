// Shared helpers of the CUDA kernels: host-side argument checks (throwing with the op name and the
// tensor description), float-type dispatch (F32 / BF16), element load/store through fp32, 16-byte
// vector access, warp/block reductions and launch sizing.
#pragma once
#include <cuda_bf16.h>
#include <cuda_runtime.h>

#include <cstdint>
#include <initializer_list>
#include <stdexcept>
#include <string>

#include "kernels/cuda/cuda_check.h"
#include "kernels/cuda/cuda_context.h"
#include "kernels/tensor.h"

namespace wm::cuda {

using bf16_t = __nv_bfloat16;

// ---------------------------------------------------------------- host-side checks
[[noreturn]] inline void fail(const char* op, const std::string& what) {
  throw std::invalid_argument(std::string(op) + " (CUDA): " + what);
}

inline void check_cuda_tensor(const char* op, const char* name, const Tensor& t) {
  if (t.device != Device::CUDA) fail(op, std::string(name) + " must be a CUDA tensor, got " + t.describe());
  if (!t.defined()) fail(op, std::string(name) + " has no data (" + t.describe() + ")");
}

inline void check_dtype(const char* op, const char* name, const Tensor& t, DType dt) {
  check_cuda_tensor(op, name, t);
  if (t.dtype != dt) fail(op, std::string(name) + " must be " + dtype_name(dt) + ", got " + t.describe());
}

// F32 or BF16 (the float types of the CUDA backend).
inline void check_float(const char* op, const char* name, const Tensor& t) {
  check_cuda_tensor(op, name, t);
  if (t.dtype != DType::F32 && t.dtype != DType::BF16)
    fail(op, std::string(name) + " must be f32 or bf16 on CUDA, got " + t.describe());
}

inline void check_shape(const char* op, const char* name, const Tensor& t, std::initializer_list<int64_t> dims) {
  bool ok = t.ndim == static_cast<int>(dims.size());
  int i = 0;
  for (auto d : dims) ok = ok && i < t.ndim && t.shape[i++] == d;
  if (!ok) {
    std::string s = "[";
    bool first = true;
    for (auto d : dims) { s += (first ? "" : ",") + std::to_string(d); first = false; }
    fail(op, std::string(name) + " must have shape " + s + "], got " + t.describe());
  }
}

inline void check_rank(const char* op, const char* name, const Tensor& t, int ndim) {
  if (t.ndim != ndim) fail(op, std::string(name) + " must be " + std::to_string(ndim) + "-D, got " + t.describe());
}

inline void check_numel(const char* op, const char* name, const Tensor& t, int64_t n) {
  if (t.numel() != n)
    fail(op, std::string(name) + " must have " + std::to_string(n) + " elements, got " + t.describe());
}

// Calls f.template operator()<T>() with T = float or bf16_t for the dtype of t.
template <class F>
decltype(auto) dispatch_float(const char* op, const Tensor& t, F&& f) {
  if (t.dtype == DType::F32) return f.template operator()<float>();
  if (t.dtype == DType::BF16) return f.template operator()<bf16_t>();
  fail(op, std::string("unsupported dtype of ") + t.describe() + " (CUDA ops take f32 or bf16)");
}

inline bool aligned16(const void* p) { return (reinterpret_cast<uintptr_t>(p) & 15u) == 0; }

inline unsigned grid_for(int64_t n, int block, int64_t max_blocks = 65535LL * 16) {
  int64_t g = (n + block - 1) / block;
  if (g < 1) g = 1;
  if (g > max_blocks) g = max_blocks;
  return static_cast<unsigned>(g);
}

// ---------------------------------------------------------------- device helpers
__device__ __forceinline__ float to_f(float v) { return v; }
__device__ __forceinline__ float to_f(bf16_t v) { return __bfloat162float(v); }
template <class T> __device__ __forceinline__ T from_f(float v);
template <> __device__ __forceinline__ float from_f<float>(float v) { return v; }
template <> __device__ __forceinline__ bf16_t from_f<bf16_t>(float v) { return __float2bfloat16_rn(v); }

// Elements per 16-byte vector.
template <class T> constexpr int kVec = 16 / static_cast<int>(sizeof(T));

template <class T>
__device__ __forceinline__ void load_vec(const T* p, float (&out)[kVec<T>]) {
  const uint4 raw = *reinterpret_cast<const uint4*>(p);
  const T* e = reinterpret_cast<const T*>(&raw);
#pragma unroll
  for (int i = 0; i < kVec<T>; ++i) out[i] = to_f(e[i]);
}

template <class T>
__device__ __forceinline__ void store_vec(T* p, const float (&in)[kVec<T>]) {
  uint4 raw;
  T* e = reinterpret_cast<T*>(&raw);
#pragma unroll
  for (int i = 0; i < kVec<T>; ++i) e[i] = from_f<T>(in[i]);
  *reinterpret_cast<uint4*>(p) = raw;
}

__device__ __forceinline__ float warp_sum(float v) {
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
  return v;
}

__device__ __forceinline__ float warp_max(float v) {
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, o));
  return v;
}

// Block-wide sum; every thread gets the result. `shared` holds >= 32 floats. blockDim % 32 == 0.
__device__ __forceinline__ float block_sum(float v, float* shared) {
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, nwarps = blockDim.x >> 5;
  v = warp_sum(v);
  __syncthreads();  // `shared` may still be read by a previous call
  if (lane == 0) shared[warp] = v;
  __syncthreads();
  v = lane < nwarps ? shared[lane] : 0.0f;
  return warp_sum(v);
}

__device__ __forceinline__ float block_max(float v, float* shared) {
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, nwarps = blockDim.x >> 5;
  v = warp_max(v);
  __syncthreads();
  if (lane == 0) shared[warp] = v;
  __syncthreads();
  v = lane < nwarps ? shared[lane] : -INFINITY;
  return warp_max(v);
}

__device__ __forceinline__ void raise_error(int* flag, int code) { atomicCAS(flag, 0, code); }

}  // namespace wm::cuda

namespace wm::cuda {

// 8 consecutive elements through fp32 (one 16-byte access for bf16, two for f32).
// p must be 16-byte aligned.
template <class T>
__device__ __forceinline__ void load8(const T* p, float (&out)[8]) {
  if constexpr (sizeof(T) == 2) {
    load_vec(p, out);
  } else {
    const float4 a = reinterpret_cast<const float4*>(p)[0], b = reinterpret_cast<const float4*>(p)[1];
    out[0] = a.x; out[1] = a.y; out[2] = a.z; out[3] = a.w;
    out[4] = b.x; out[5] = b.y; out[6] = b.z; out[7] = b.w;
  }
}

template <class T>
__device__ __forceinline__ void store8(T* p, const float (&in)[8]) {
  if constexpr (sizeof(T) == 2) {
    store_vec(p, in);
  } else {
    reinterpret_cast<float4*>(p)[0] = make_float4(in[0], in[1], in[2], in[3]);
    reinterpret_cast<float4*>(p)[1] = make_float4(in[4], in[5], in[6], in[7]);
  }
}

}  // namespace wm::cuda
