// Cross-entropy over a large vocabulary: one block per row, fp32 logsumexp with a per-thread
// running (max, sum) over 16-byte vectors, then a block reduction. Targets outside [0, V) that are
// not ignore_index raise the device error flag (thrown at the next synchronize) and give loss 0.
// Rows whose target is ignore_index get loss 0 and lse 0 (like the CPU reference).
#include "kernels/cuda/cuda_backend.h"
#include "kernels/cuda/cuda_common.cuh"

namespace wm::cuda {
namespace {

constexpr int kBlock = 512;

__device__ __forceinline__ void online_add(float& m, float& s, float x) {
  if (x > m) { s = s * __expf(m - x) + 1.0f; m = x; }
  else s += __expf(x - m);
}

template <class T>
__global__ void ce_forward_kernel(float* losses, float* lse_out, const T* logits, const int* targets, int64_t V,
                                  int ignore_index, bool vec, int* error_flag) {
  __shared__ float red[32];
  const int64_t n = blockIdx.x;
  const T* row = logits + n * V;
  if (targets[n] == ignore_index) {  // as the CPU reference: loss 0 and lse 0, row not read
    if (threadIdx.x == 0) losses[n] = lse_out[n] = 0.0f;
    return;
  }
  float m = -INFINITY, s = 0.0f;
  int64_t done = 0;
  if (vec) {
    for (int64_t c = threadIdx.x * 8; c + 8 <= V; c += int64_t(blockDim.x) * 8) {
      float v[8];
      load8(row + c, v);
      float vm = v[0];
#pragma unroll
      for (int i = 1; i < 8; ++i) vm = fmaxf(vm, v[i]);
      const float nm = fmaxf(m, vm);
      float add = 0.0f;
#pragma unroll
      for (int i = 0; i < 8; ++i) add += __expf(v[i] - nm);
      s = (m == -INFINITY ? 0.0f : s * __expf(m - nm)) + add;
      m = nm;
    }
    done = V / 8 * 8;
  }
  for (int64_t c = done + threadIdx.x; c < V; c += blockDim.x) online_add(m, s, to_f(row[c]));
  const float gm = block_max(m, red);
  const float scaled = m == -INFINITY ? 0.0f : s * __expf(m - gm);
  const float total = block_sum(scaled, red);
  if (threadIdx.x == 0) {
    const float lse = gm + logf(total);
    lse_out[n] = lse;
    const int t = targets[n];
    float loss = 0.0f;
    if (t != ignore_index) {
      if (t < 0 || t >= V) raise_error(error_flag, kTargetOutOfRange);
      else loss = lse - to_f(row[t]);
    }
    losses[n] = loss;
  }
}

// dlogits may alias logits: every element is read and then written by the same thread.
template <class T, class G>
__global__ void ce_backward_kernel(G* dlogits, const T* logits, const float* lse, const int* targets,
                                   const float* dloss, int64_t V, int ignore_index, bool vec) {
  const int64_t n = blockIdx.x;
  const T* row = logits + n * V;
  G* drow = dlogits + n * V;
  const int t = targets[n];
  const bool ignored = t == ignore_index || t < 0 || t >= V;
  const float w = ignored ? 0.0f : dloss[n];
  const float l = lse[n];
  int64_t done = 0;
  if (vec) {
    for (int64_t c = threadIdx.x * 8; c + 8 <= V; c += int64_t(blockDim.x) * 8) {
      float v[8];
      load8(row + c, v);
#pragma unroll
      for (int i = 0; i < 8; ++i) v[i] = ignored ? 0.0f : (__expf(v[i] - l) - (c + i == t ? 1.0f : 0.0f)) * w;
      store8(drow + c, v);
    }
    done = V / 8 * 8;
  }
  for (int64_t c = done + threadIdx.x; c < V; c += blockDim.x) {
    const float x = to_f(row[c]);
    drow[c] = from_f<G>(ignored ? 0.0f : (__expf(x - l) - (c == t ? 1.0f : 0.0f)) * w);
  }
}

}  // namespace

void CudaBackend::cross_entropy_forward(Tensor losses, Tensor lse, const Tensor& logits, const Tensor& targets,
                                        int ignore_index) {
  const char* op = "cross_entropy_forward";
  check_float(op, "logits", logits);
  check_rank(op, "logits", logits, 2);
  const int64_t N = logits.size(0), V = logits.size(1);
  check_dtype(op, "targets", targets, DType::I32);
  check_numel(op, "targets", targets, N);
  check_dtype(op, "losses", losses, DType::F32);
  check_numel(op, "losses", losses, N);
  check_dtype(op, "lse", lse, DType::F32);
  check_numel(op, "lse", lse, N);
  if (N == 0) return;
  if (V == 0) fail(op, "empty vocabulary in " + logits.describe());
  auto& ctx = CudaContext::get();
  const bool vec = aligned16(logits.data) && (V * int64_t(dtype_size(logits.dtype))) % 16 == 0;
  dispatch_float(op, logits, [&]<class T>() {
    ce_forward_kernel<<<unsigned(N), kBlock, 0, ctx.stream()>>>(
        static_cast<float*>(losses.data), static_cast<float*>(lse.data), static_cast<const T*>(logits.data),
        targets.ptr<const int32_t>(), V, ignore_index, vec, ctx.error_flag());
  });
  CUDA_CHECK_LAUNCH("ce_forward_kernel");
}

void CudaBackend::cross_entropy_backward(Tensor dlogits, const Tensor& logits, const Tensor& lse,
                                         const Tensor& targets, const Tensor& dloss, int ignore_index) {
  const char* op = "cross_entropy_backward";
  check_float(op, "logits", logits);
  check_rank(op, "logits", logits, 2);
  const int64_t N = logits.size(0), V = logits.size(1);
  check_float(op, "dlogits", dlogits);
  check_shape(op, "dlogits", dlogits, {N, V});
  if (dlogits.data == logits.data && dlogits.dtype != logits.dtype)
    fail(op, "dlogits may alias logits only with the same dtype, got " + dlogits.describe() + " and " + logits.describe());
  check_dtype(op, "targets", targets, DType::I32);
  check_numel(op, "targets", targets, N);
  check_dtype(op, "lse", lse, DType::F32);
  check_numel(op, "lse", lse, N);
  check_dtype(op, "dloss", dloss, DType::F32);
  check_numel(op, "dloss", dloss, N);
  if (N == 0 || V == 0) return;
  const bool vec = aligned16(logits.data) && aligned16(dlogits.data) &&
                   (V * int64_t(dtype_size(logits.dtype))) % 16 == 0 && (V * int64_t(dtype_size(dlogits.dtype))) % 16 == 0;
  dispatch_float(op, logits, [&]<class T>() {
    dispatch_float(op, dlogits, [&]<class G>() {
      ce_backward_kernel<<<unsigned(N), kBlock, 0, stream()>>>(
          static_cast<G*>(dlogits.data), static_cast<const T*>(logits.data), static_cast<const float*>(lse.data),
          targets.ptr<const int32_t>(), static_cast<const float*>(dloss.data), V, ignore_index, vec);
    });
  });
  CUDA_CHECK_LAUNCH("ce_backward_kernel");
}

}  // namespace wm::cuda
