// Which attention implementation a CUDA call gets: cuDNN's fused flash attention
// (kernels/cuda/cudnn_sdpa.h; on an H100 ~2.8x our forward and ~3.2x our backward) where the
// call's layout allows it, else the hand-written kernels of attention_forward/backward.cu.
// cuDNN takes bf16 calls whose document layout the caller states in AttnDocs: rows that are
// each one whole document (a plain batched causal graph), or a list of the documents of >= 2
// tokens (ragged "THD" graphs with padding + causal masks; 1-token documents, i.e. padding, are
// finished by small kernels). Without AttnDocs the hand-written kernels run.
// The packed-documents path is EXPERIMENTAL and opt-in (WEMASK_ATTENTION=cudnn_docs): its
// kernel test passes, but the HF parity test's bf16 packed rows get wrong gradients through it.
// WEMASK_ATTENTION=own forces the hand-written kernels (A/B runs). If cuDNN fails (e.g. no plan for a graph), the process warns once on stderr
// and keeps to the hand-written kernels.
#pragma once
#include <functional>
#include <optional>

#include "kernels/backend.h"
#include "kernels/cuda/attention.h"
#include "kernels/cuda/cudnn_sdpa.h"

namespace wm::cuda::attn {

// cuDNN's shape for this call when it can take the cuDNN path, nullopt otherwise.
std::optional<SdpaShape> cudnn_shape(const AttnShape& s, DType dtype, const AttnDocs& docs);
// cuDNN's packed-documents description for this call when it can take that path (and the
// whole-rows path cannot), nullopt otherwise.
std::optional<SdpaDocs> cudnn_docs(const AttnShape& s, DType dtype, const AttnDocs& docs);

// Runs f(CudnnSdpa&) and returns true; on a cuDNN error warns once, turns the cuDNN path off for
// the process and returns false (the caller then runs the hand-written kernel).
bool run_cudnn(const char* op, const std::function<void(CudnnSdpa&)>& f);

}  // namespace wm::cuda::attn
