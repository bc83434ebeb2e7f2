// RoPE, rotate-half, in place on x [T, H, D]; frequencies and angles as in rope_freq.cuh (inv_freq
// passed by value). One thread per (t, i < D/2), looping over heads.
#include "kernels/cuda/cuda_backend.h"
#include "kernels/cuda/cuda_common.cuh"
#include "kernels/cuda/rope_freq.cuh"

namespace wm::cuda {
namespace {

template <class T>
__global__ void rope_kernel(T* x, const int* pos, InvFreq inv_freq, int64_t T_, int H, int D, float sign) {
  const int half = D / 2;
  const int64_t idx = blockIdx.x * int64_t(blockDim.x) + threadIdx.x;
  if (idx >= T_ * half) return;
  const int64_t t = idx / half;
  const int i = int(idx % half);
  const float2 cs = rope_cos_sin(pos[t], inv_freq.v[i]);
  const float c = cs.x, s = sign * cs.y;  // sign -1: the inverse rotation
  T* row = x + t * H * D;
  for (int h = 0; h < H; ++h) {
    T* p = row + int64_t(h) * D;
    const float x0 = to_f(p[i]), x1 = to_f(p[i + half]);
    p[i] = from_f<T>(x0 * c - x1 * s);
    p[i + half] = from_f<T>(x1 * c + x0 * s);
  }
}

void rope(const char* op, Tensor x, const Tensor& pos, float theta, float sign) {
  check_float(op, "x", x);
  check_rank(op, "x", x, 3);
  check_dtype(op, "pos", pos, DType::I32);
  const int64_t T = x.size(0), H = x.size(1), D = x.size(2);
  check_numel(op, "pos", pos, T);
  if (D % 2 != 0 || D / 2 > kRopeMaxHalf) fail(op, "head_dim must be even and <= 512, got " + x.describe());
  if (T == 0 || H == 0) return;
  const InvFreq inv = rope_inv_freq(theta, D);
  const int64_t n = T * (D / 2);
  dispatch_float(op, x, [&]<class Tp>() {
    rope_kernel<<<grid_for(n, 256, INT32_MAX), 256, 0, stream()>>>(static_cast<Tp*>(x.data), pos.ptr<const int32_t>(),
                                                                   inv, T, int(H), int(D), sign);
  });
  CUDA_CHECK_LAUNCH("rope_kernel");
}

}  // namespace

void CudaBackend::rope_forward(Tensor x, const Tensor& pos, float theta) { rope("rope_forward", x, pos, theta, 1.0f); }

void CudaBackend::rope_backward(Tensor dx, const Tensor& pos, float theta) {
  rope("rope_backward", dx, pos, theta, -1.0f);
}

}  // namespace wm::cuda
