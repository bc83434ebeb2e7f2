// Prototype: cuDNN's fused flash attention (SDPA) forward and backward through the raw backend
// graph API, on our layouts. Not wired into the model yet; tests/cuda/cudnn_sdpa_test.cpp checks it
// against CudaBackend::attention_forward/backward and times both.
//
// Layouts (bf16, row-major, contiguous, 16-byte aligned device pointers):
//   q, out, dq, dout [T, Hq, D];  k, v, dk, dv [T, Hkv, D];  T = rows * seq.
//   Each row of `seq` tokens is one sequence with a causal mask (no packed documents).
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

#include <map>
#include <memory>
#include <string>
#include <tuple>

namespace wm::cuda {

struct SdpaShape {
  int rows = 0;      // B: sequences
  int seq = 0;       // S: tokens per sequence
  int q_heads = 0;   // Hq
  int kv_heads = 0;  // Hkv (Hq % Hkv == 0)
  int head_dim = 0;  // D (multiple of 8, <= 128 on our side; cuDNN on Hopper takes <= 256)
};

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

  // Builds (or finds) the plan for a shape without running it; returns describe().
  std::string prepare(const SdpaShape& shape, bool backward);
  // The cached plan of a shape: engine index, workspace bytes, lse layout.
  std::string describe(const SdpaShape& shape, bool backward) const;

  struct Entry;

 private:
  using Key = std::tuple<int, int, int, int, int, bool>;
  Entry& entry(const SdpaShape& shape, bool backward);

  cudnnHandle_t handle_ = nullptr;
  int device_ = -1;
  std::map<Key, std::unique_ptr<Entry>> cache_;
};

}  // namespace wm::cuda
