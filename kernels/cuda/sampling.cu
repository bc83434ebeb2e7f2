// sample_tokens: one block per row of logits. Thread t owns the contiguous chunk
// [t*C, (t+1)*C) of the vocabulary. Pass 1: max and argmax (lowest id on ties). Pass 2: each
// chunk's sum of exp(z - max); warp 0 scans the chunk sums and finds the chunk where the running
// sum passes u * total, then walks that chunk. All in fp32.
#include "kernels/cuda/cuda_backend.h"
#include "kernels/cuda/cuda_common.cuh"

namespace wm::cuda {
namespace {

constexpr int kThreads = 1024;

__device__ __forceinline__ void better(float& m, int64_t& arg, float m2, int64_t arg2) {
  if (m2 > m || (m2 == m && arg2 < arg)) { m = m2; arg = arg2; }
}

template <class T>
__global__ void __launch_bounds__(kThreads)
sample_tokens_kernel(int* ids, float* logprobs, const T* logits, const float* uniforms, int64_t V, float inv_t,
                     bool greedy) {
  __shared__ float s_val[kThreads / 32];
  __shared__ int64_t s_arg[kThreads / 32];
  __shared__ float s_sum[kThreads];
  __shared__ float s_max;
  __shared__ int64_t s_pick;
  const int tid = threadIdx.x, lane = tid & 31, warp = tid >> 5;
  const T* row = logits + int64_t(blockIdx.x) * V;
  const int64_t chunk = (V + kThreads - 1) / kThreads;
  const int64_t begin = min(V, tid * chunk), end = min(V, begin + chunk);

  float m = -INFINITY;
  int64_t arg = V;
  for (int64_t i = begin; i < end; ++i) better(m, arg, to_f(row[i]) * inv_t, i);
#pragma unroll
  for (int off = 16; off > 0; off >>= 1)
    better(m, arg, __shfl_xor_sync(0xffffffffu, m, off), __shfl_xor_sync(0xffffffffu, arg, off));
  if (lane == 0) { s_val[warp] = m; s_arg[warp] = arg; }
  __syncthreads();
  if (warp == 0) {
    m = s_val[lane];
    arg = s_arg[lane];
#pragma unroll
    for (int off = 16; off > 0; off >>= 1)
      better(m, arg, __shfl_xor_sync(0xffffffffu, m, off), __shfl_xor_sync(0xffffffffu, arg, off));
    if (lane == 0) { s_max = m; s_pick = arg < V ? arg : 0; }
  }
  __syncthreads();
  const float mx = s_max;

  float sum = 0.0f;
  for (int64_t i = begin; i < end; ++i) sum += __expf(to_f(row[i]) * inv_t - mx);
  s_sum[tid] = sum;
  __syncthreads();
  if (warp == 0) {
    // lane owns chunk sums [lane*32, lane*32+32)
    float part = 0.0f;
    for (int c = 0; c < 32; ++c) part += s_sum[lane * 32 + c];
    float incl = part;
#pragma unroll
    for (int off = 1; off < 32; off <<= 1) {
      const float o = __shfl_up_sync(0xffffffffu, incl, off);
      if (lane >= off) incl += o;
    }
    const float total = __shfl_sync(0xffffffffu, incl, 31);
    if (!greedy) {
      const float target = uniforms[blockIdx.x] * total;
      // First lane whose inclusive sum passes the target (the last lane with mass if rounding
      // leaves none).
      const unsigned passed = __ballot_sync(0xffffffffu, incl > target && part > 0.0f);
      const unsigned nonzero = __ballot_sync(0xffffffffu, part > 0.0f);
      const int owner = passed ? __ffs(passed) - 1 : (nonzero ? 31 - __clz(nonzero) : 0);
      if (lane == owner) {
        float run = incl - part;
        int64_t pick = -1;
        for (int c = 0; c < 32; ++c) {
          const int t = lane * 32 + c;
          if (run + s_sum[t] <= target && c < 31) { run += s_sum[t]; continue; }
          const int64_t b0 = min(V, t * chunk), b1 = min(V, b0 + chunk);
          bool found = false;
          for (int64_t i = b0; i < b1 && !found; ++i) {
            const float p = __expf(to_f(row[i]) * inv_t - mx);
            run += p;
            if (p > 0.0f) pick = i;
            found = run > target && p > 0.0f;
          }
          if (found) break;
        }
        if (pick >= 0) s_pick = pick;
      }
    }
    __syncwarp();
    if (lane == 0) {
      const int64_t pick = s_pick;
      ids[blockIdx.x] = int(pick);
      logprobs[blockIdx.x] = to_f(row[pick]) * inv_t - mx - logf(total);
    }
  }
}

}  // namespace

void CudaBackend::sample_tokens(Tensor ids, Tensor logprobs, const Tensor& logits, const Tensor& uniforms,
                                float temperature) {
  const char* op = "sample_tokens";
  check_float(op, "logits", logits);
  check_rank(op, "logits", logits, 2);
  const int64_t B = logits.size(0), V = logits.size(1);
  if (V == 0 || V >= INT32_MAX) fail(op, "bad vocabulary size: " + logits.describe());
  check_dtype(op, "ids", ids, DType::I32);
  check_shape(op, "ids", ids, {B});
  check_dtype(op, "logprobs", logprobs, DType::F32);
  check_shape(op, "logprobs", logprobs, {B});
  check_dtype(op, "uniforms", uniforms, DType::F32);
  check_shape(op, "uniforms", uniforms, {B});
  if (!(temperature >= 0.0f) || !std::isfinite(temperature))
    fail(op, "temperature must be finite and >= 0, got " + std::to_string(temperature));
  if (B == 0) return;
  if (B > 65535LL * 1024) fail(op, "too many rows: " + logits.describe());
  const bool greedy = temperature == 0.0f;
  const float inv_t = greedy ? 1.0f : 1.0f / temperature;
  auto& ctx = CudaContext::get();
  dispatch_float(op, logits, [&]<class T>() {
    sample_tokens_kernel<<<unsigned(B), kThreads, 0, ctx.stream()>>>(
        ids.ptr<int32_t>(), logprobs.ptr<float>(), static_cast<const T*>(logits.data), uniforms.ptr<const float>(),
        V, inv_t, greedy);
  });
  CUDA_CHECK_LAUNCH("sample_tokens_kernel");
}

}  // namespace wm::cuda
