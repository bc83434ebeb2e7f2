// Small kernels around cuDNN's ragged (packed documents) SDPA (kernels/cuda/cudnn_sdpa_docs.cpp):
//   - the per-batch-entry sequence lengths and ragged element offsets of a bucketed batch, computed
//     on the device from the caller's document list (no host sync: graph capture keeps working);
//   - padding tokens (outside every listed document = one-token documents): forward out = v,
//     lse = scale * q.k; backward dq = dk = 0, dv = the sum of the kv head's query heads' dout;
//   - moving the softmax stats between our lse [Hq, T] and the layout the cuDNN plan uses.
// All bf16 tensors are row-major [T, heads, D]; launches go on `stream` and are checked.
#pragma once
#include <cuda_runtime.h>

#include <cstdint>

namespace wm::cuda {

// Where the cuDNN plan keeps the softmax stats (lse) of the listed documents' tokens.
enum class DocsStats : int {
  kOurs = 0,    // our lse [Hq, T] itself (ragged, strides (., T, 1, 1), offsets = token index)
  kThd = 1,     // a [T, Hq] buffer (ragged, strides (., 1, Hq, 1), offsets = token index * Hq)
  kPadded = 2,  // a packed [B, Hq, S, 1] buffer (not ragged): entry b's token s at (b * Hq + h) * S + s
};

struct DocsList {
  int tokens = 0, num_docs = 0;
  const int* begin = nullptr;  // device [num_docs]
  const int* end = nullptr;    // device [num_docs]
};

// For b < batch: seq_len[b] = doc length (0 for b >= num_docs); for b <= batch (B + 1 entries):
// off_q[b] = begin * q_heads * head_dim, off_kv[b] = begin * kv_heads * head_dim,
// off_stats[b] = begin * stats_mult, where begin of an unused entry b >= num_docs is the end of the
// last document (0 when none).
void sdpa_docs_offsets(const DocsList& docs, int batch, int q_heads, int kv_heads, int head_dim, int stats_mult,
                       int* seq_len, int* off_q, int* off_kv, int* off_stats, cudaStream_t stream);

// After cuDNN's forward: padding tokens' out and lse; for kThd / kPadded also copies the listed
// tokens' stats from `stats` (layout per mode; seq = the plan's S for kPadded) into lse.
void sdpa_docs_forward_finish(const DocsList& docs, void* out, float* lse, const void* q, const void* k,
                              const void* v, int q_heads, int kv_heads, int head_dim, float scale, DocsStats mode,
                              const float* stats, int seq, cudaStream_t stream);

// Before cuDNN's backward, for kThd / kPadded: copies lse of the listed documents' tokens into
// `stats` (kPadded: the caller zeroes the buffer first). No-op for kOurs.
void sdpa_docs_backward_stats(const DocsList& docs, const float* lse, int q_heads, DocsStats mode, float* stats, int seq,
                              cudaStream_t stream);
// After cuDNN's backward: padding tokens' dq, dk, dv.
void sdpa_docs_backward_padding(const DocsList& docs, void* dq, void* dk, void* dv, const void* dout, int q_heads,
                                int kv_heads, int head_dim, cudaStream_t stream);

}  // namespace wm::cuda
