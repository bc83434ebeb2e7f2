// AdamW on fp32 master weights and moments; the gradient is F32 or BF16 and is scaled by
// grad_scale. Bias corrections are computed on the host; correctly rounded sqrt/div keep the
// update bit-close to the CPU reference despite --use_fast_math. 8 elements per thread-step.
#include <cmath>

#include "kernels/cuda/cuda_backend.h"
#include "kernels/cuda/cuda_common.cuh"

namespace wm::cuda {
namespace {

struct AdamWConst {
  float lr, b1, b2, eps, wd, bc1, bc2, grad_scale;
};

__device__ __forceinline__ void adamw_one(float& p, float g, float& m, float& v, const AdamWConst& k) {
  g *= k.grad_scale;
  m = k.b1 * m + (1.0f - k.b1) * g;
  v = k.b2 * v + (1.0f - k.b2) * g * g;
  const float mhat = __fdiv_rn(m, k.bc1);
  const float vhat = __fdiv_rn(v, k.bc2);
  p = p - k.lr * __fdiv_rn(mhat, __fsqrt_rn(vhat) + k.eps) - k.lr * k.wd * p;
}

// W: the dtype of the optional rounded copy of p (weights; null: none).
template <class G, class W>
__global__ void adamw_kernel(float* p, const G* grad, float* m, float* v, W* weights, int64_t n, bool vec,
                             AdamWConst k) {
  const int64_t stride = int64_t(gridDim.x) * blockDim.x;
  const int64_t tid = blockIdx.x * int64_t(blockDim.x) + threadIdx.x;
  int64_t done = 0;
  if (vec) {
    const int64_t nchunks = n / 8;
    for (int64_t c = tid; c < nchunks; c += stride) {
      float pv[8], gv[8], mv[8], vv[8];
      load8(p + c * 8, pv); load8(grad + c * 8, gv); load8(m + c * 8, mv); load8(v + c * 8, vv);
#pragma unroll
      for (int i = 0; i < 8; ++i) adamw_one(pv[i], gv[i], mv[i], vv[i], k);
      store8(p + c * 8, pv); store8(m + c * 8, mv); store8(v + c * 8, vv);
      if (weights) store8(weights + c * 8, pv);
    }
    done = nchunks * 8;
  }
  for (int64_t i = done + tid; i < n; i += stride) {
    adamw_one(p[i], to_f(grad[i]), m[i], v[i], k);
    if (weights) weights[i] = from_f<W>(p[i]);
  }
}

}  // namespace

void CudaBackend::adamw_update(Tensor master, const Tensor& grad, Tensor m, Tensor v, const AdamWParams& hp,
                               float grad_scale, Tensor weights) {
  const char* op = "adamw_update";
  check_dtype(op, "master", master, DType::F32);
  check_float(op, "grad", grad);
  check_dtype(op, "m", m, DType::F32);
  check_dtype(op, "v", v, DType::F32);
  const int64_t n = master.numel();
  check_numel(op, "grad", grad, n);
  check_numel(op, "m", m, n);
  check_numel(op, "v", v, n);
  if (hp.step < 1) fail(op, "step must be >= 1 (1-based), got " + std::to_string(hp.step));
  const bool with_weights = weights.data != nullptr;  // a default Tensor{} means "none"
  if (with_weights) {
    check_float(op, "weights", weights);
    check_numel(op, "weights", weights, n);
  }
  if (n == 0) return;
  const AdamWConst k{hp.lr, hp.beta1, hp.beta2, hp.eps, hp.weight_decay,
                     static_cast<float>(1.0 - std::pow(double(hp.beta1), double(hp.step))),
                     static_cast<float>(1.0 - std::pow(double(hp.beta2), double(hp.step))), grad_scale};
  const bool vec = aligned16(master.data) && aligned16(grad.data) && aligned16(m.data) && aligned16(v.data) &&
                   (!with_weights || aligned16(weights.data));
  const Tensor& wdt = with_weights ? weights : master;  // picks W (unused without weights)
  dispatch_float(op, grad, [&]<class G>() {
    dispatch_float(op, wdt, [&]<class W>() {
      adamw_kernel<<<grid_for(vec ? (n + 7) / 8 : n, 256, 4096), 256, 0, stream()>>>(
          static_cast<float*>(master.data), static_cast<const G*>(grad.data), static_cast<float*>(m.data),
          static_cast<float*>(v.data), with_weights ? static_cast<W*>(weights.data) : nullptr, n, vec, k);
    });
  });
  CUDA_CHECK_LAUNCH("adamw_kernel");
}

}  // namespace wm::cuda
