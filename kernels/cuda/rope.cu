// RoPE, rotate-half, in place on x [T, H, D]. inv_freq is computed on the host exactly as the
// CPU reference does (fp32) and passed by value; angle = float(pos) * inv_freq (fp32), and cos/sin
// are evaluated in double (fast-math sinf is inaccurate for angles of thousands of radians).
// One thread per (t, i < D/2), looping over heads.
#include <cmath>

#include "kernels/cuda/cuda_backend.h"
#include "kernels/cuda/cuda_common.cuh"

namespace wm::cuda {
namespace {

constexpr int kMaxHalf = 256;  // head_dim up to 512
struct InvFreq { float v[kMaxHalf]; };

template <class T>
__global__ void rope_kernel(T* x, const int* pos, InvFreq inv_freq, int64_t T_, int H, int D, float sign) {
  const int half = D / 2;
  const int64_t idx = blockIdx.x * int64_t(blockDim.x) + threadIdx.x;
  if (idx >= T_ * half) return;
  const int64_t t = idx / half;
  const int i = int(idx % half);
  const float angle = float(pos[t]) * inv_freq.v[i];
  const float c = float(cos(double(angle)));
  const float s = sign * float(sin(double(angle)));  // sign -1: the inverse rotation
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
  if (D % 2 != 0 || D / 2 > kMaxHalf) fail(op, "head_dim must be even and <= 512, got " + x.describe());
  if (T == 0 || H == 0) return;
  InvFreq inv{};
  for (int64_t i = 0; i < D / 2; ++i)
    inv.v[i] = 1.0f / std::pow(theta, static_cast<float>(2 * i) / static_cast<float>(D));
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
