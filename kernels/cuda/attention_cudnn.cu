#include "kernels/cuda/attention_cudnn.h"

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <memory>

namespace wm::cuda::attn {
namespace {

std::atomic<bool> g_cudnn_failed{false};

bool cudnn_allowed() {
  const char* e = std::getenv("WEMASK_ATTENTION");
  if (e && std::strcmp(e, "own") == 0) return false;
  static const bool available = CudnnSdpa::available();
  return available && !g_cudnn_failed.load();
}

CudnnSdpa& instance() {
  static CudnnSdpa sdpa;  // one handle for the process (the backend drives one device)
  return sdpa;
}

}  // namespace

std::optional<SdpaShape> cudnn_shape(const AttnShape& s, DType dtype, const AttnDocs& docs) {
  if (dtype != DType::BF16 || !docs.whole_rows || docs.rows <= 0 || docs.seq <= 0) return std::nullopt;
  if (docs.rows * docs.seq != s.T || s.D % 8 != 0 || s.D > 128) return std::nullopt;
  if (!cudnn_allowed()) return std::nullopt;
  return SdpaShape{int(docs.rows), int(docs.seq), s.Hq, s.Hkv, s.D};
}

std::optional<SdpaDocs> cudnn_docs(const AttnShape& s, DType dtype, const AttnDocs& docs) {
  // Opt-in until the ragged graphs pass the HF parity test (bf16 packed rows: wrong gradients).
  const char* mode = std::getenv("WEMASK_ATTENTION");
  if (!mode || std::strcmp(mode, "cudnn_docs") != 0) return std::nullopt;
  if (dtype != DType::BF16 || docs.num_docs <= 0 || s.D % 8 != 0 || s.D > 128) return std::nullopt;
  if (docs.num_docs > 0 && (!docs.doc_begin || !docs.doc_end || docs.max_doc_len < 2)) return std::nullopt;
  if (!cudnn_allowed()) return std::nullopt;
  SdpaDocs d;
  d.tokens = s.T;
  d.num_docs = int(docs.num_docs);
  d.max_doc_len = int(docs.max_doc_len);
  d.doc_begin = docs.doc_begin;
  d.doc_end = docs.doc_end;
  return d;
}

bool run_cudnn(const char* op, const std::function<void(CudnnSdpa&)>& f) {
  try {
    f(instance());
    return true;
  } catch (const std::exception& e) {
    if (!g_cudnn_failed.exchange(true))
      std::fprintf(stderr, "wemask: %s: cuDNN fused attention failed, using the built-in kernels from now on: %s\n",
                   op, e.what());
    return false;
  }
}

}  // namespace wm::cuda::attn
