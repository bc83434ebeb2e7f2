// Kernels around cuDNN's ragged SDPA; see sdpa_docs.h. One block per token for the per-token
// kernels: thread 0 finds the token's document by binary search over the (few hundred at most)
// listed documents; tokens inside a document return at once unless stats have to be moved.
#include <cuda_bf16.h>

#include "kernels/cuda/cuda_check.h"
#include "kernels/cuda/sdpa_docs.h"

namespace wm::cuda {
namespace {

using bf16 = __nv_bfloat16;
constexpr int kThreads = 128;

// Index of the listed document that holds token t, or -1 (a padding token).
__device__ int find_doc(const DocsList& d, int t) {
  int lo = 0, hi = d.num_docs - 1, found = -1;
  while (lo <= hi) {
    const int mid = (lo + hi) / 2;
    if (d.begin[mid] <= t) {
      found = mid;
      lo = mid + 1;
    } else {
      hi = mid - 1;
    }
  }
  return (found >= 0 && t < d.end[found]) ? found : -1;
}

__device__ float warp_sum(float x) {
  for (int o = 16; o > 0; o >>= 1) x += __shfl_xor_sync(0xffffffffu, x, o);
  return x;
}

__global__ void offsets_kernel(DocsList d, int batch, int64_t q_mult, int64_t kv_mult, int64_t stats_mult,
                               int* seq_len, int* off_q, int* off_kv, int* off_stats) {
  const int last_end = d.num_docs > 0 ? d.end[d.num_docs - 1] : 0;
  for (int b = blockIdx.x * blockDim.x + threadIdx.x; b <= batch; b += gridDim.x * blockDim.x) {
    const bool used = b < d.num_docs;
    const int64_t begin = used ? d.begin[b] : last_end;
    if (b < batch) seq_len[b] = used ? d.end[b] - d.begin[b] : 0;
    off_q[b] = int(begin * q_mult);
    off_kv[b] = int(begin * kv_mult);
    off_stats[b] = int(begin * stats_mult);
  }
}

__global__ void forward_finish_kernel(DocsList d, bf16* out, float* lse, const bf16* q, const bf16* k, const bf16* v,
                                      int Hq, int Hkv, int D, float scale, int mode, const float* stats, int seq) {
  __shared__ int doc_s;
  const int t = blockIdx.x;
  if (threadIdx.x == 0) doc_s = find_doc(d, t);
  __syncthreads();
  const int doc = doc_s;
  const int64_t T = d.tokens;
  if (doc < 0) {  // a one-token document: softmax over one key
    const int group = Hq / Hkv, warp = threadIdx.x / 32, lane = threadIdx.x % 32;
    for (int h = warp; h < Hq; h += kThreads / 32) {
      const int g = h / group;
      const bf16* qr = q + (int64_t(t) * Hq + h) * D;
      const bf16* kr = k + (int64_t(t) * Hkv + g) * D;
      const bf16* vr = v + (int64_t(t) * Hkv + g) * D;
      bf16* orow = out + (int64_t(t) * Hq + h) * D;
      float dot = 0.0f;
      for (int i = lane; i < D; i += 32) {
        dot += __bfloat162float(qr[i]) * __bfloat162float(kr[i]);
        orow[i] = vr[i];
      }
      dot = warp_sum(dot);
      if (lane == 0) lse[int64_t(h) * T + t] = scale * dot;
    }
    return;
  }
  if (mode == int(DocsStats::kThd)) {
    for (int h = threadIdx.x; h < Hq; h += kThreads) lse[int64_t(h) * T + t] = stats[int64_t(t) * Hq + h];
  } else if (mode == int(DocsStats::kPadded)) {
    const int s = t - d.begin[doc];
    for (int h = threadIdx.x; h < Hq; h += kThreads)
      lse[int64_t(h) * T + t] = stats[(int64_t(doc) * Hq + h) * seq + s];
  }
}

__global__ void backward_kernel(DocsList d, bf16* dq, bf16* dk, bf16* dv, const bf16* dout, const float* lse, int Hq,
                                int Hkv, int D, int mode, float* stats, int seq, bool padding) {
  __shared__ int doc_s;
  const int t = blockIdx.x;
  if (threadIdx.x == 0) doc_s = find_doc(d, t);
  __syncthreads();
  const int doc = doc_s;
  const int64_t T = d.tokens;
  if (doc < 0 && padding) {  // one-token document: P = 1, so dS = 0 (dq = dk = 0) and dv = sum of the group's dout
    const int group = Hq / Hkv;
    const bf16 zero = __float2bfloat16(0.0f);
    for (int i = threadIdx.x; i < Hq * D; i += kThreads) dq[int64_t(t) * Hq * D + i] = zero;
    for (int i = threadIdx.x; i < Hkv * D; i += kThreads) {
      const int g = i / D, c = i % D;
      float sum = 0.0f;
      for (int h = g * group; h < (g + 1) * group; ++h) sum += __bfloat162float(dout[(int64_t(t) * Hq + h) * D + c]);
      dk[int64_t(t) * Hkv * D + i] = zero;
      dv[int64_t(t) * Hkv * D + i] = __float2bfloat16(sum);
    }
    return;
  }
  if (doc < 0 || padding) return;
  if (mode == int(DocsStats::kThd)) {
    for (int h = threadIdx.x; h < Hq; h += kThreads) stats[int64_t(t) * Hq + h] = lse[int64_t(h) * T + t];
  } else if (mode == int(DocsStats::kPadded)) {
    const int s = t - d.begin[doc];
    for (int h = threadIdx.x; h < Hq; h += kThreads)
      stats[(int64_t(doc) * Hq + h) * seq + s] = lse[int64_t(h) * T + t];
  }
}

}  // namespace

void sdpa_docs_offsets(const DocsList& docs, int batch, int q_heads, int kv_heads, int head_dim, int stats_mult,
                       int* seq_len, int* off_q, int* off_kv, int* off_stats, cudaStream_t stream) {
  const int blocks = (batch + 1 + 255) / 256;
  offsets_kernel<<<blocks, 256, 0, stream>>>(docs, batch, int64_t(q_heads) * head_dim, int64_t(kv_heads) * head_dim,
                                              stats_mult, seq_len, off_q, off_kv, off_stats);
  CUDA_CHECK_LAUNCH("sdpa_docs_offsets");
}

void sdpa_docs_forward_finish(const DocsList& docs, void* out, float* lse, const void* q, const void* k,
                              const void* v, int q_heads, int kv_heads, int head_dim, float scale, DocsStats mode,
                              const float* stats, int seq, cudaStream_t stream) {
  if (docs.tokens <= 0) return;
  forward_finish_kernel<<<docs.tokens, kThreads, 0, stream>>>(
      docs, static_cast<bf16*>(out), lse, static_cast<const bf16*>(q), static_cast<const bf16*>(k),
      static_cast<const bf16*>(v), q_heads, kv_heads, head_dim, scale, int(mode), stats, seq);
  CUDA_CHECK_LAUNCH("sdpa_docs_forward_finish");
}

void sdpa_docs_backward_stats(const DocsList& docs, const float* lse, int q_heads, DocsStats mode, float* stats, int seq,
                              cudaStream_t stream) {
  if (docs.tokens <= 0 || mode == DocsStats::kOurs) return;
  backward_kernel<<<docs.tokens, kThreads, 0, stream>>>(docs, nullptr, nullptr, nullptr, nullptr, lse, q_heads, 1, 0,
                                                        int(mode), stats, seq, false);
  CUDA_CHECK_LAUNCH("sdpa_docs_backward_stats");
}

void sdpa_docs_backward_padding(const DocsList& docs, void* dq, void* dk, void* dv, const void* dout, int q_heads,
                                int kv_heads, int head_dim, cudaStream_t stream) {
  if (docs.tokens <= 0) return;
  backward_kernel<<<docs.tokens, kThreads, 0, stream>>>(
      docs, static_cast<bf16*>(dq), static_cast<bf16*>(dk), static_cast<bf16*>(dv), static_cast<const bf16*>(dout),
      nullptr, q_heads, kv_heads, head_dim, int(DocsStats::kOurs), nullptr, 0, true);
  CUDA_CHECK_LAUNCH("sdpa_docs_backward_padding");
}

}  // namespace wm::cuda
