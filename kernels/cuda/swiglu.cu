// SwiGLU on packed gate_up [N, 2F]: out = silu(gate) * up, silu rounded to the storage dtype
// first (as HF does). Backward:
//   dgate = dout * up * sig(g) * (1 + g (1 - sig(g))),  dup = dout * silu(g).
// One thread per 8 consecutive columns (16-byte accesses when F % 8 == 0 and aligned).
#include "kernels/cuda/cuda_backend.h"
#include "kernels/cuda/cuda_common.cuh"

namespace wm::cuda {
namespace {

__device__ __forceinline__ float sigmoid(float g) { return 1.0f / (1.0f + __expf(-g)); }

template <class T>
__global__ void swiglu_forward_kernel(T* out, const T* gu, int64_t N, int64_t F, bool vec) {
  const int64_t per_row = vec ? F / 8 : F;
  const int64_t stride = int64_t(gridDim.x) * blockDim.x;
  for (int64_t idx = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; idx < N * per_row; idx += stride) {
    const int64_t n = idx / per_row, j = idx % per_row;
    const T* g = gu + n * 2 * F;
    const T* u = g + F;
    if (vec) {
      float gv[8], uv[8];
      load8(g + j * 8, gv);
      load8(u + j * 8, uv);
#pragma unroll
      for (int i = 0; i < 8; ++i) gv[i] = to_f(from_f<T>(gv[i] * sigmoid(gv[i]))) * uv[i];
      store8(out + n * F + j * 8, gv);
    } else {
      const float gf = to_f(g[j]);
      out[n * F + j] = from_f<T>(to_f(from_f<T>(gf * sigmoid(gf))) * to_f(u[j]));
    }
  }
}

template <class T>
__global__ void swiglu_backward_kernel(T* dgu, const T* dout, const T* gu, int64_t N, int64_t F, bool vec) {
  const int64_t per_row = vec ? F / 8 : F;
  const int64_t stride = int64_t(gridDim.x) * blockDim.x;
  for (int64_t idx = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; idx < N * per_row; idx += stride) {
    const int64_t n = idx / per_row, j = idx % per_row;
    const T* g = gu + n * 2 * F;
    const T* u = g + F;
    T* dg = dgu + n * 2 * F;
    T* du = dg + F;
    if (vec) {
      float gv[8], uv[8], dov[8], dgv[8];
      load8(g + j * 8, gv);
      load8(u + j * 8, uv);
      load8(dout + n * F + j * 8, dov);
#pragma unroll
      for (int i = 0; i < 8; ++i) {
        const float s = sigmoid(gv[i]);
        dgv[i] = dov[i] * uv[i] * s * (1.0f + gv[i] * (1.0f - s));
        uv[i] = dov[i] * gv[i] * s;
      }
      store8(dg + j * 8, dgv);
      store8(du + j * 8, uv);
    } else {
      const float gf = to_f(g[j]), uf = to_f(u[j]), d = to_f(dout[n * F + j]);
      const float s = sigmoid(gf);
      dg[j] = from_f<T>(d * uf * s * (1.0f + gf * (1.0f - s)));
      du[j] = from_f<T>(d * gf * s);
    }
  }
}

}  // namespace

void CudaBackend::swiglu_forward(Tensor out, const Tensor& gate_up) {
  const char* op = "swiglu_forward";
  check_float(op, "gate_up", gate_up);
  check_rank(op, "gate_up", gate_up, 2);
  const int64_t N = gate_up.size(0), F = gate_up.size(1) / 2;
  if (gate_up.size(1) % 2) fail(op, "gate_up must have an even number of columns, got " + gate_up.describe());
  check_dtype(op, "out", out, gate_up.dtype);
  check_shape(op, "out", out, {N, F});
  if (N * F == 0) return;
  const bool vec = F % 8 == 0 && aligned16(out.data) && aligned16(gate_up.data);
  dispatch_float(op, out, [&]<class T>() {
    swiglu_forward_kernel<<<grid_for(N * (vec ? F / 8 : F), 256, 8192), 256, 0, stream()>>>(
        static_cast<T*>(out.data), static_cast<const T*>(gate_up.data), N, F, vec);
  });
  CUDA_CHECK_LAUNCH("swiglu_forward_kernel");
}

void CudaBackend::swiglu_backward(Tensor dgate_up, const Tensor& dout, const Tensor& gate_up) {
  const char* op = "swiglu_backward";
  check_float(op, "gate_up", gate_up);
  check_rank(op, "gate_up", gate_up, 2);
  const int64_t N = gate_up.size(0), F = gate_up.size(1) / 2;
  if (gate_up.size(1) % 2) fail(op, "gate_up must have an even number of columns, got " + gate_up.describe());
  check_dtype(op, "dgate_up", dgate_up, gate_up.dtype);
  check_shape(op, "dgate_up", dgate_up, {N, 2 * F});
  check_dtype(op, "dout", dout, gate_up.dtype);
  check_shape(op, "dout", dout, {N, F});
  if (N * F == 0) return;
  const bool vec = F % 8 == 0 && aligned16(dout.data) && aligned16(gate_up.data) && aligned16(dgate_up.data);
  dispatch_float(op, gate_up, [&]<class T>() {
    swiglu_backward_kernel<<<grid_for(N * (vec ? F / 8 : F), 256, 8192), 256, 0, stream()>>>(
        static_cast<T*>(dgate_up.data), static_cast<const T*>(dout.data), static_cast<const T*>(gate_up.data), N, F,
        vec);
  });
  CUDA_CHECK_LAUNCH("swiglu_backward_kernel");
}

}  // namespace wm::cuda
