// cuDNN fused SDPA, forward and backward, as backend operation graphs.
//
// The op sequences follow what cudnn-frontend's composite SDPA nodes emit (read in
// NVIDIA/cudnn-frontend, include/cudnn_frontend/node/scaled_dot_product_flash_attention.h,
// node/softmax.h and the attention score modifiers' causal_mask). cuDNN's SDPA engines recognize
// these patterns and run them as one fused flash-attention kernel. K (and V in the backward) enter
// the graph transposed by strides: KT = [B, Hkv, D, S]. Grouped-query attention is expressed by
// the heads dimension alone (Q has Hq heads, K/V Hkv; the matmuls broadcast), and in the backward
// dK / dV are produced per query head ([B, Hq, S, D], virtual) and reduced onto the kv heads by a
// sum reduction, which the engine fuses.
#include "kernels/cuda/cudnn_sdpa.h"

#include <cstdlib>
#include <limits>
#include <stdexcept>
#include <vector>

#include "kernels/buffer.h"
#include "kernels/cuda/cuda_check.h"
#include "kernels/cuda/cudnn_check.h"
#include "kernels/cuda/cudnn_graph.h"
#include "kernels/cuda/cudnn_sdpa_blocks.h"

namespace wm::cuda {

// Tensor uids of one SDPA graph (0: not part of it).
struct SdpaUids {
  int64_t q = 0, k = 0, v = 0, o = 0, stats = 0, dout = 0, dq = 0, dk = 0, dv = 0;
  int64_t softmax_sum = 0, dq_accum = 0, scale = 0;
};

namespace {

using namespace sdpa_blocks;

// Our tensors seen as cuDNN's [B, H, S, D] (BSHD memory), one document per row.
struct Layout : SdpaDims {
  explicit Layout(const SdpaShape& s)
      : SdpaDims{s.rows, s.seq, s.q_heads, s.kv_heads, s.head_dim, int64_t(s.rows) * s.seq} {}
  // Our lse [Hq, T] = [Hq, B, S] as [B, H, S, 1]; or cuDNN's packed [B, H, S, 1].
  Dims stats_strides(bool packed) const { return packed ? Dims{H * S, S, 1, 1} : Dims{S, T, 1, 1}; }
};

// Forward (frontend CompositeSDPANode + CompositeSoftmaxNode with Stats):
//   S = Q @ KT; S *= scale; causal mask; M = max_j S; E = exp(S - M); Z = sum_j E;
//   Stats = M + log Z; P = E / Z (bf16); O = P @ V.
void build_forward(CudnnGraph& g, SdpaUids& u, const Layout& L, bool packed_stats) {
  u.q = g.tensor(L.q_dims(), L.q_strides(), kBF16);
  u.k = g.tensor(L.kvT_dims(), L.kvT_strides(), kBF16);
  u.v = g.tensor(L.kv_dims(), L.kv_strides(), kBF16);
  u.o = g.tensor(L.q_dims(), L.q_strides(), kBF16);
  u.stats = g.tensor(L.row_dims(), L.stats_strides(packed_stats), kF32);
  u.scale = g.scalar(1.0f);
  const int64_t lowest = g.scalar(std::numeric_limits<float>::lowest());

  const int64_t s1 = g.virt(L.score_dims(), kF32);
  g.matmul(u.q, u.k, s1);
  const int64_t s2 = g.virt(L.score_dims(), kF32);
  g.pointwise(CUDNN_POINTWISE_MUL, s2, s1, u.scale);
  const int64_t p = softmax_with_stats(g, L, causal_mask(g, L, s2, lowest), u.stats);
  g.matmul(p, u.v, u.o);
}

// Backward (frontend CompositeSDPABackwardNode, cuDNN >= 9.6, no dropout / bias):
//   softmax_sum = sum_d(dO * O) * 1            (fp32 [B,H,S,1], non-virtual, in our workspace)
//   S = Q @ KT; S *= scale; causal mask; P = exp(S - Stats)
//   dV = reduce_heads(P^T @ dO)                (P^T by a reshape with swapped strides, bf16)
//   dP = dO @ VT; dS = (dP - softmax_sum) * P * scale
//   dK = reduce_heads(dS^T @ Q)
//   dQ_accum = dS @ K (fp32, non-virtual, in our workspace); dQ = identity(dQ_accum)
// mask_after_stats: apply the causal mask after subtracting Stats (the order of newer frontends,
// whose sliding-window mask comes after "sub_s_m") instead of before it (older frontends).
void build_backward(CudnnGraph& g, SdpaUids& u, const Layout& L, bool packed_stats, bool mask_after_stats) {
  u.q = g.tensor(L.q_dims(), L.q_strides(), kBF16);
  u.k = g.tensor(L.kvT_dims(), L.kvT_strides(), kBF16);
  u.v = g.tensor(L.kvT_dims(), L.kvT_strides(), kBF16);
  u.o = g.tensor(L.q_dims(), L.q_strides(), kBF16);
  u.dout = g.tensor(L.q_dims(), L.q_strides(), kBF16);
  u.stats = g.tensor(L.row_dims(), L.stats_strides(packed_stats), kF32);
  u.dq = g.tensor(L.q_dims(), L.q_strides(), kBF16);
  u.dk = g.tensor(L.kv_dims(), L.kv_strides(), kBF16);
  u.dv = g.tensor(L.kv_dims(), L.kv_strides(), kBF16);
  u.softmax_sum = g.tensor(L.row_dims(), packed_strides(L.row_dims()), kF32);
  u.dq_accum = g.tensor(L.q_dims(), packed_strides(L.q_dims()), kF32);
  u.scale = g.scalar(1.0f);
  const int64_t lowest = g.scalar(std::numeric_limits<float>::lowest());
  dout_o_rowsum(g, L, u.dout, u.o, u.softmax_sum);

  // P = exp(mask(scale * Q KT) - Stats)
  const int64_t s1 = g.virt(L.score_dims(), kF32);
  g.matmul(u.q, u.k, s1);
  const int64_t s2 = g.virt(L.score_dims(), kF32);
  g.pointwise(CUDNN_POINTWISE_MUL, s2, s1, u.scale);
  int64_t s4 = 0;
  if (mask_after_stats) {
    const int64_t s3 = g.virt(L.score_dims(), kF32);
    g.pointwise(CUDNN_POINTWISE_SUB, s3, s2, u.stats);
    s4 = causal_mask(g, L, s3, lowest);
  } else {
    const int64_t s3 = causal_mask(g, L, s2, lowest);
    s4 = g.virt(L.score_dims(), kF32);
    g.pointwise(CUDNN_POINTWISE_SUB, s4, s3, u.stats);
  }
  const int64_t p = g.virt(L.score_dims(), kF32);
  g.pointwise(CUDNN_POINTWISE_EXP, p, s4);

  kv_head_grad(g, L, p, u.dout, u.dv);  // dV = P^T dO
  const int64_t ds = score_grad(g, L, u.dout, u.v, u.softmax_sum, p, u.scale);
  kv_head_grad(g, L, ds, u.q, u.dk);  // dK = dS^T Q

  // dQ = dS @ K (K back from KT by a reshape; the frontend leaves this virtual tensor in the
  // intermediate type, fp32)
  const int64_t k_again = g.virt(L.kv_dims(), kF32, L.kv_strides());
  g.reshape(k_again, u.k);
  g.matmul(ds, k_again, u.dq_accum);
  g.pointwise(CUDNN_POINTWISE_IDENTITY, u.dq, u.dq_accum);
}

std::string shape_text(const SdpaShape& s, bool backward) {
  return std::string("cuDNN SDPA ") + (backward ? "backward" : "forward") + " (rows " + std::to_string(s.rows) +
         ", seq " + std::to_string(s.seq) + ", Hq " + std::to_string(s.q_heads) + ", Hkv " +
         std::to_string(s.kv_heads) + ", D " + std::to_string(s.head_dim) + ")";
}

void check_shape(const SdpaShape& s) {
  if (s.rows <= 0 || s.seq <= 0 || s.q_heads <= 0 || s.kv_heads <= 0 || s.head_dim <= 0 ||
      s.q_heads % s.kv_heads != 0 || s.head_dim % 8 != 0)
    throw std::runtime_error(shape_text(s, false) + ": bad shape (heads must divide, head_dim a multiple of 8)");
}

}  // namespace

struct CudnnSdpa::Entry {
  std::unique_ptr<CudnnGraph> graph;
  CudnnPlan plan;
  SdpaUids uids;
  bool packed_stats = false;
  Buffer workspace;  // [cuDNN workspace | packed stats | softmax_sum | dQ_accum], each 256-byte aligned
  size_t stats_off = 0, softmax_sum_off = 0, dq_accum_off = 0;
  std::string what, variant;
  std::string rejected;  // why earlier variants got no plan ("" when the first one did)

  char* ws() const { return static_cast<char*>(workspace.data()); }
};

bool CudnnSdpa::available() { return unavailable_reason().empty(); }

std::string CudnnSdpa::unavailable_reason() {
  const size_t ver = cudnnGetVersion();
  if (ver < 90000) return "cuDNN " + std::to_string(ver) + " is older than 9.0";
  int dev = 0, count = 0;
  if (cudaGetDeviceCount(&count) != cudaSuccess || count == 0) {
    cudaGetLastError();
    return "no CUDA device";
  }
  int major = 0;
  if (cudaGetDevice(&dev) != cudaSuccess ||
      cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, dev) != cudaSuccess) {
    cudaGetLastError();
    return "cannot query the current CUDA device";
  }
  if (major < 8) return "device " + std::to_string(dev) + " is sm_" + std::to_string(major) + "x, fused SDPA needs sm_80+";
  return "";
}

CudnnSdpa::CudnnSdpa() {
  CUDA_CHECK(cudaGetDevice(&device_));
  CUDNN_CHECK(cudnnCreate(&handle_));
}

CudnnSdpa::~CudnnSdpa() {
  cache_.clear();
  docs_cache_.clear();
  if (handle_) cudnnDestroy(handle_);
}

CudnnSdpa::Entry& CudnnSdpa::entry(const SdpaShape& s, bool backward) {
  check_shape(s);
  int dev = -1;
  CUDA_CHECK(cudaGetDevice(&dev));
  if (dev != device_)
    throw std::runtime_error("CudnnSdpa: created on device " + std::to_string(device_) + ", called on device " +
                             std::to_string(dev));
  const Key key{s.rows, s.seq, s.q_heads, s.kv_heads, s.head_dim, backward};
  if (auto it = cache_.find(key); it != cache_.end()) return *it->second;

  auto e = std::make_unique<Entry>();
  e->what = shape_text(s, backward);
  const Layout L(s);
  std::string errors;
  // Variants, first that yields a plan wins: our lse strides, then cuDNN's packed stats (with a
  // copy per call); for the backward each with the mask before, then after, the Stats subtraction.
  // WEMASK_CUDNN_SDPA_PACKED_STATS=1 skips our strides (if an engine took them but misread them).
  const char* force_packed = std::getenv("WEMASK_CUDNN_SDPA_PACKED_STATS");
  const bool only_packed = force_packed && std::string(force_packed) == "1";
  for (bool packed : {false, true}) {
    if (only_packed && !packed) continue;
    for (bool mask_after : {false, true}) {
      if (!backward && mask_after) continue;
      const std::string variant = std::string(packed ? " [packed stats" : " [our lse strides") +
                                  (backward ? (mask_after ? ", mask after Stats]" : ", mask before Stats]") : "]");
      try {
        auto g = std::make_unique<CudnnGraph>();
        SdpaUids u;
        if (backward) build_backward(*g, u, L, packed, mask_after);
        else build_forward(*g, u, L, packed);
        e->plan = g->build(handle_, e->what + variant);
        e->graph = std::move(g);
        e->uids = u;
        e->packed_stats = packed;
        e->variant = variant;
        break;
      } catch (const std::exception& ex) {
        errors += std::string("\n") + ex.what();
      }
    }
    if (e->graph) break;
  }
  if (!e->graph) throw std::runtime_error(e->what + ": no plan could be built:" + errors);
  e->rejected = errors;

  const size_t rows_bytes = size_t(L.B * L.H * L.S) * sizeof(float);
  size_t off = align256(size_t(e->plan.workspace_bytes));
  if (e->packed_stats) {
    e->stats_off = off;
    off += align256(rows_bytes);
  }
  if (backward) {
    e->softmax_sum_off = off;
    off += align256(rows_bytes);
    e->dq_accum_off = off;
    off += align256(rows_bytes * size_t(L.D));
  }
  if (off > 0) e->workspace = Buffer(off, Device::CUDA);
  return *cache_.emplace(key, std::move(e)).first->second;
}

namespace {

// Our lse [H, B, S] <-> cuDNN's packed stats [B, H, S] (one 2-D copy per head).
void copy_stats(float* dst, const float* src, const Layout& L, bool to_packed, cudaStream_t stream) {
  const size_t row = size_t(L.S) * sizeof(float);
  for (int64_t h = 0; h < L.H; ++h) {
    if (to_packed)
      CUDA_CHECK(cudaMemcpy2DAsync(dst + h * L.S, size_t(L.H) * row, src + h * L.T, row, row, size_t(L.B),
                                   cudaMemcpyDeviceToDevice, stream));
    else
      CUDA_CHECK(cudaMemcpy2DAsync(dst + h * L.T, row, src + h * L.S, size_t(L.H) * row, row, size_t(L.B),
                                   cudaMemcpyDeviceToDevice, stream));
  }
}

}  // namespace

void CudnnSdpa::forward(void* out, float* lse, const void* q, const void* k, const void* v, const SdpaShape& shape,
                        float scale, cudaStream_t stream) {
  Entry& e = entry(shape, false);
  const Layout L(shape);
  float* stats = e.packed_stats ? reinterpret_cast<float*>(e.ws() + e.stats_off) : lse;
  e.graph->set_scalar(e.uids.scale, scale);
  CUDNN_CHECK(cudnnSetStream(handle_, stream));
  e.graph->execute(handle_, e.plan,
                   {{e.uids.q, const_cast<void*>(q)},
                    {e.uids.k, const_cast<void*>(k)},
                    {e.uids.v, const_cast<void*>(v)},
                    {e.uids.o, out},
                    {e.uids.stats, stats}},
                   e.ws());
  if (e.packed_stats) copy_stats(lse, stats, L, false, stream);
}

void CudnnSdpa::backward(void* dq, void* dk, void* dv, const void* dout, const void* q, const void* k, const void* v,
                         const void* out, const float* lse, const SdpaShape& shape, float scale, cudaStream_t stream) {
  Entry& e = entry(shape, true);
  const Layout L(shape);
  void* stats = const_cast<float*>(lse);
  if (e.packed_stats) {
    stats = e.ws() + e.stats_off;
    copy_stats(static_cast<float*>(stats), lse, L, true, stream);
  }
  e.graph->set_scalar(e.uids.scale, scale);
  CUDNN_CHECK(cudnnSetStream(handle_, stream));
  e.graph->execute(handle_, e.plan,
                   {{e.uids.q, const_cast<void*>(q)},
                    {e.uids.k, const_cast<void*>(k)},
                    {e.uids.v, const_cast<void*>(v)},
                    {e.uids.o, const_cast<void*>(out)},
                    {e.uids.dout, const_cast<void*>(dout)},
                    {e.uids.stats, stats},
                    {e.uids.dq, dq},
                    {e.uids.dk, dk},
                    {e.uids.dv, dv},
                    {e.uids.softmax_sum, e.ws() + e.softmax_sum_off},
                    {e.uids.dq_accum, e.ws() + e.dq_accum_off}},
                   e.ws());
}

std::string CudnnSdpa::prepare(const SdpaShape& shape, bool backward) {
  entry(shape, backward);
  return describe(shape, backward);
}

std::string CudnnSdpa::describe(const SdpaShape& s, bool backward) const {
  const auto it = cache_.find(Key{s.rows, s.seq, s.q_heads, s.kv_heads, s.head_dim, backward});
  if (it == cache_.end()) return shape_text(s, backward) + ": no plan built";
  const Entry& e = *it->second;
  return e.what + e.variant + ": " + std::to_string(e.graph->num_ops()) + " ops, " + e.plan.heur_mode +
         " config #" + std::to_string(e.plan.engine_index) + " (engine " + std::to_string(e.plan.engine_global) +
         "), cuDNN workspace " + std::to_string(e.plan.workspace_bytes) +
         " B (total " + std::to_string(e.workspace.size()) + " B), lse " +
         (e.packed_stats ? "via packed [B,H,S] stats + copy" : "written in place ([Hq,T] strides)") +
         (e.rejected.empty() ? "" : "; earlier variants rejected:" + e.rejected);
}

}  // namespace wm::cuda
