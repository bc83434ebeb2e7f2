// Prototype: cuDNN's fused flash attention (SDPA) forward and backward through the raw backend
// graph API, on our layouts. Not wired into the model yet; tests/cuda/cudnn_sdpa_test.cpp checks it
// against CudaBackend::attention_forward/backward and times both.
//
// Layouts (bf16, row-major, contiguous, 16-byte aligned device pointers):
//   q, out, dq, dout [T, Hq, D];  k, v, dk, dv [T, Hkv, D];  T = rows * seq.
//   forward/backward: each row of `seq` tokens is one sequence with a causal mask.
//   forward_docs/backward_docs: packed documents (SdpaDocs; kernels/cuda/cudnn_sdpa_docs.cpp).
//   lse fp32 [Hq, T]: natural-log logsumexp of the scaled, masked scores, index h * T + t, as our
//   kernels store it. cuDNN's "Stats" tensor is [B, Hq, S, 1] = the same quantity (max + log(sum
//   exp)), described here with strides (S, T, 1, 1) so that it is our buffer; if no engine takes
//   those strides, the plan falls back to cuDNN's packed [B, Hq, S] and copies to/from our layout
//   (cudaMemcpy2DAsync per head), which describe() reports. WEMASK_CUDNN_SDPA_PACKED_STATS=1
//   forces the packed layout. The backward also tries a second op order (causal mask after the
//   Stats subtraction, as newer cudnn-frontends emit) if no engine takes the first.
//
// Graphs are the op sequences cudnn-frontend's composite SDPA nodes emit (see cudnn_sdpa.cpp).
// Plans are cached per (rows, seq, Hq, Hkv, D, fwd/bwd); the workspace of a plan is allocated once
// when the plan is built, never per call. Every failing cuDNN call throws std::runtime_error with
// cuDNN's status and last error message; for cuDNN's own trace run with
//   CUDNN_LOGERR_DBG=1 CUDNN_LOGWARN_DBG=1 CUDNN_LOGDEST_DBG=stderr
#pragma once
#include <cuda_runtime.h>
#include <cudnn_graph.h>

#include <cstdint>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <tuple>
#include <vector>

namespace wm::cuda {

struct SdpaShape {
  int rows = 0;      // B: sequences
  int seq = 0;       // S: tokens per sequence
  int q_heads = 0;   // Hq
  int kv_heads = 0;  // Hkv (Hq % Hkv == 0)
  int head_dim = 0;  // D (multiple of 8, <= 128 on our side; cuDNN on Hopper takes <= 256)
};

// The documents of a packed batch (device data prepared by the caller), for forward_docs /
// backward_docs. Semantics are our kernels' doc_start ones: query t sees keys j with
// doc_start[t] <= j <= t. Listed documents are contiguous token ranges [doc_begin[i], doc_end[i]),
// in increasing order, non-overlapping, each of >= 1 token; they need not cover all tokens: a token
// outside every listed document is a one-token document (padding; also any 1-token document may
// be left out). Begin and end are separate arrays because a [num_docs + 1] offsets array cannot
// express the gaps that the padding between documents leaves.
struct SdpaDocs {
  int tokens = 0;                  // T
  int num_docs = 0;                // listed documents (0: every token is padding)
  int max_doc_len = 0;             // >= the longest listed document (host value: picks the graph bucket)
  const int* doc_begin = nullptr;  // device I32 [num_docs]: flat index of each document's first token
  const int* doc_end = nullptr;    // device I32 [num_docs]: one past its last token
};

// Host helper: the document list of a per-token doc_start array (as our attention kernels take
// it): every run of >= 2 tokens sharing a doc_start; one-token documents (padding) are left out,
// they are identical to the padding the kernels finish. Upload begin/end and fill an SdpaDocs.
struct SdpaDocList {
  std::vector<int32_t> begin, end;
  int max_len = 0;
};
SdpaDocList list_documents(std::span<const int32_t> doc_start);

class CudnnSdpa {
 public:
  // True when cuDNN >= 9 is loaded and the current device is sm_80 or newer.
  static bool available();
  // Why available() is false ("" when it is true).
  static std::string unavailable_reason();

  CudnnSdpa();  // creates a cuDNN handle on the current device (throws without one)
  ~CudnnSdpa();
  CudnnSdpa(const CudnnSdpa&) = delete;
  CudnnSdpa& operator=(const CudnnSdpa&) = delete;

  void forward(void* out, float* lse, const void* q, const void* k, const void* v, const SdpaShape& shape, float scale,
               cudaStream_t stream);
  // dq, dk, dv overwritten.
  void backward(void* dq, void* dk, void* dv, const void* dout, const void* q, const void* k, const void* v,
                const void* out, const float* lse, const SdpaShape& shape, float scale, cudaStream_t stream);

  // Packed documents (ragged / THD graphs: each listed document is one batch entry of a
  // [B, H, S, D] tensor with per-entry offsets, plus a padding mask from its length and the causal
  // mask; B and S are bucketed: B = max(8, next power of two >= num_docs), S = max(128, next power
  // of two >= max_doc_len)). Tokens outside the documents are finished by a small kernel (out = v,
  // lse = scale q.k; dq = dk = 0, dv = sum of the group's dout). Layouts as forward/backward.
  // Plans are cached per (T, B, S, Hq, Hkv, D, fwd/bwd); a bucket's workspace is cudaMalloc'ed
  // when its plan is built, so build the buckets (prepare_docs or one eager call) before CUDA-graph
  // capture. max_doc_len must not be below a listed document's length (the plan's S would be).
  void forward_docs(void* out, float* lse, const void* q, const void* k, const void* v, const SdpaDocs& docs,
                    int q_heads, int kv_heads, int head_dim, float scale, cudaStream_t stream);
  void backward_docs(void* dq, void* dk, void* dv, const void* dout, const void* q, const void* k, const void* v,
                     const void* out, const float* lse, const SdpaDocs& docs, int q_heads, int kv_heads,
                     int head_dim, float scale, cudaStream_t stream);
  // Builds (or finds) the packed-documents plan of docs' bucket; returns its description.
  std::string prepare_docs(const SdpaDocs& docs, int q_heads, int kv_heads, int head_dim, bool backward);

  // Builds (or finds) the plan for a shape without running it; returns describe().
  std::string prepare(const SdpaShape& shape, bool backward);
  // The cached plan of a shape: engine index, workspace bytes, lse layout.
  std::string describe(const SdpaShape& shape, bool backward) const;

  struct Entry;
  struct DocsEntry;
  struct DocsEntryDeleter {
    void operator()(DocsEntry* e) const;
  };

 private:
  using Key = std::tuple<int, int, int, int, int, bool>;
  Entry& entry(const SdpaShape& shape, bool backward);

  cudnnHandle_t handle_ = nullptr;
  int device_ = -1;
  std::map<Key, std::unique_ptr<Entry>> cache_;

  // (T, B bucket, S bucket, Hq, Hkv, D, backward)
  using DocsKey = std::tuple<int, int, int, int, int, int, bool>;
  DocsEntry& docs_entry(const SdpaDocs& docs, int q_heads, int kv_heads, int head_dim, bool backward);
  std::map<DocsKey, std::unique_ptr<DocsEntry, DocsEntryDeleter>> docs_cache_;
};

}  // namespace wm::cuda
