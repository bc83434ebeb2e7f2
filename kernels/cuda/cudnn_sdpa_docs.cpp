// cuDNN fused SDPA over packed documents: ragged (THD) graphs.
//
// Each listed document is one batch entry b of [B, H, S, D] tensors whose batch stride is replaced
// by per-entry element offsets (CUDNN_ATTR_TENSOR_RAGGED_OFFSET_DESC: token offset * heads * D, on
// Q/K/V/O/dO/dQ/dK/dV, and on the stats where the plan keeps them ragged). Rows and columns past the
// entry's length are removed by the padding mask (frontend attn::score_modifiers::padding_mask:
// row < seq_len_q AND col < seq_len_kv, else the lowest float) and by the matmuls' M/N/K override
// tensors (seq_len_q / seq_len_kv), as cudnn-frontend emits for set_padding_mask(true) with
// set_seq_len_q/kv (node/scaled_dot_product_flash_attention.h, CompositeSDPANode and
// CompositeSDPABackwardNode); the causal mask follows the padding mask. seq_len_q == seq_len_kv
// == the document length. Unused bucket entries get length 0 and the offset of the last
// document's end.
//
// Stats (our lse [Hq, T]) are tried in three layouts, first plan wins (WEMASK_CUDNN_SDPA_DOCS_STATS
// = thd | padded | ours keeps only one): ragged THD [T, Hq] (what cudnn-frontend / TransformerEngine
// use for THD on cuDNN >= 9.6) plus a transpose kernel (T * Hq floats, negligible), the padded
// [B, Hq, S, 1] plus a gather/scatter kernel, or ragged with our own [Hq, T] strides (no copies, but
// per-document offsets of 4 bytes that an engine might assume aligned: last, opt-in by the env). In the backward, softmax_sum (fp32
// rowsum(dO * O)) and dQ_accum (fp32) are ragged like the stats / dQ (sized by T, as the frontend
// does with max_total_seq_len_q), or packed [B, Hq, S, (D)] with the padded stats.
#include <algorithm>
#include <cstdlib>
#include <limits>
#include <stdexcept>
#include <utility>
#include <vector>

#include "kernels/buffer.h"
#include "kernels/cuda/cuda_check.h"
#include "kernels/cuda/cudnn_check.h"
#include "kernels/cuda/cudnn_graph.h"
#include "kernels/cuda/cudnn_sdpa.h"
#include "kernels/cuda/cudnn_sdpa_blocks.h"
#include "kernels/cuda/sdpa_docs.h"

namespace wm::cuda {

// Types that DocsEntry (external linkage) holds; named, not anonymous.
namespace docs_detail {

using namespace sdpa_blocks;

int next_pow2(int n) {
  int p = 1;
  while (p < n) p *= 2;
  return p;
}

// Which device array a ragged-offset tensor reads.
enum OffArray : int { kOffQ = 0, kOffKv = 1, kOffStats = 2 };

const char* stats_name(DocsStats m) {
  switch (m) {
    case DocsStats::kOurs: return "ours";
    case DocsStats::kThd: return "thd";
    case DocsStats::kPadded: return "padded";
  }
  return "?";
}

// Layout of a bucketed ragged batch: B entries of up to S tokens (BSHD memory per entry).
struct DocsLayout : SdpaDims {
  Dims stats_strides(DocsStats m) const {
    if (m == DocsStats::kOurs) return {S, T, 1, 1};   // lse[h * T + token]
    if (m == DocsStats::kThd) return {H * S, 1, H, 1};  // buf[token * H + h]
    return {H * S, S, 1, 1};                            // packed [B, H, S, 1]
  }
};

struct Variant {
  DocsStats stats = DocsStats::kOurs;
  bool packed_aux = false;  // backward: softmax_sum / dQ_accum packed [B, H, S, (D)] instead of ragged
  bool mask_after = false;  // backward: causal mask after subtracting Stats (newer frontends)
  std::string name() const {
    return std::string(" [stats ") + stats_name(stats) + (packed_aux ? ", packed aux" : "") +
           (mask_after ? ", causal after Stats]" : "]");
  }
};

// Tensor uids of one ragged SDPA graph (0: not part of it).
struct DocsUids {
  int64_t q = 0, k = 0, v = 0, o = 0, stats = 0, dout = 0, dq = 0, dk = 0, dv = 0;
  int64_t softmax_sum = 0, dq_accum = 0, scale = 0, seq_q = 0, seq_kv = 0;
  std::vector<std::pair<int64_t, OffArray>> offsets;  // ragged-offset tensors and the array each reads
};

// A fresh INT32 [B+1,1,1,1] ragged-offset tensor reading `which`.
int64_t offsets(CudnnGraph& g, DocsUids& u, const DocsLayout& L, OffArray which) {
  const int64_t uid = g.tensor({L.B + 1, 1, 1, 1}, {1, 1, 1, 1}, kI32);
  u.offsets.emplace_back(uid, which);
  return uid;
}

// frontend padding_mask: keep score where row < seq_len_q and col < seq_len_kv.
int64_t padding_mask(CudnnGraph& g, const DocsLayout& L, const DocsUids& u, int64_t score, int64_t lowest) {
  const Dims sd = L.score_dims();
  const int64_t row = g.virt(sd, kI32), col = g.virt(sd, kI32);
  g.pointwise(CUDNN_POINTWISE_GEN_INDEX, row, score, 0, 0, kI32, 2);
  g.pointwise(CUDNN_POINTWISE_GEN_INDEX, col, score, 0, 0, kI32, 3);
  const int64_t row_ok = g.virt(sd, CUDNN_DATA_BOOLEAN), col_ok = g.virt(sd, CUDNN_DATA_BOOLEAN);
  g.pointwise(CUDNN_POINTWISE_CMP_LT, row_ok, row, u.seq_q, 0, CUDNN_DATA_BOOLEAN);
  g.pointwise(CUDNN_POINTWISE_CMP_LT, col_ok, col, u.seq_kv, 0, CUDNN_DATA_BOOLEAN);
  const int64_t keep = g.virt(sd, CUDNN_DATA_BOOLEAN);
  g.pointwise(CUDNN_POINTWISE_LOGICAL_AND, keep, row_ok, col_ok, 0, CUDNN_DATA_BOOLEAN);
  const int64_t out = g.virt(sd, kF32);
  g.pointwise(CUDNN_POINTWISE_BINARY_SELECT, out, score, lowest, keep);
  return out;
}

void common_inputs(CudnnGraph& g, DocsUids& u, const DocsLayout& L, DocsStats stats) {
  u.seq_q = g.tensor({L.B, 1, 1, 1}, {1, 1, 1, 1}, kI32);
  u.seq_kv = g.tensor({L.B, 1, 1, 1}, {1, 1, 1, 1}, kI32);
  u.stats = g.tensor(L.row_dims(), L.stats_strides(stats), kF32,
                     stats == DocsStats::kPadded ? 0 : offsets(g, u, L, kOffStats));
  u.scale = g.scalar(1.0f);
}

// Forward: S = Q KT (per-entry M/N); *scale; padding mask; causal mask; softmax with Stats;
// O = P V (per-entry M/K).
void build_forward(CudnnGraph& g, DocsUids& u, const DocsLayout& L, const Variant& var) {
  u.q = g.tensor(L.q_dims(), L.q_strides(), kBF16, offsets(g, u, L, kOffQ));
  u.k = g.tensor(L.kvT_dims(), L.kvT_strides(), kBF16, offsets(g, u, L, kOffKv));
  u.v = g.tensor(L.kv_dims(), L.kv_strides(), kBF16, offsets(g, u, L, kOffKv));
  u.o = g.tensor(L.q_dims(), L.q_strides(), kBF16, offsets(g, u, L, kOffQ));
  common_inputs(g, u, L, var.stats);
  const int64_t lowest = g.scalar(std::numeric_limits<float>::lowest());

  const int64_t s1 = g.virt(L.score_dims(), kF32);
  g.matmul(u.q, u.k, s1, {.m = u.seq_q, .n = u.seq_kv});
  const int64_t s2 = g.virt(L.score_dims(), kF32);
  g.pointwise(CUDNN_POINTWISE_MUL, s2, s1, u.scale);
  const int64_t s4 = causal_mask(g, L, padding_mask(g, L, u, s2, lowest), lowest);

  const int64_t p = softmax_with_stats(g, L, s4, u.stats);
  g.matmul(p, u.v, u.o, {.m = u.seq_q, .k = u.seq_kv});
}

// Backward (CompositeSDPABackwardNode with padding mask): as build_backward of cudnn_sdpa.cpp,
// with ragged tensors, the padding mask before the Stats subtraction and the M/N/K overrides.
void build_backward(CudnnGraph& g, DocsUids& u, const DocsLayout& L, const Variant& var) {
  u.q = g.tensor(L.q_dims(), L.q_strides(), kBF16, offsets(g, u, L, kOffQ));
  const int64_t k_off = offsets(g, u, L, kOffKv);
  u.k = g.tensor(L.kvT_dims(), L.kvT_strides(), kBF16, k_off);
  u.v = g.tensor(L.kvT_dims(), L.kvT_strides(), kBF16, offsets(g, u, L, kOffKv));
  u.o = g.tensor(L.q_dims(), L.q_strides(), kBF16, offsets(g, u, L, kOffQ));
  u.dout = g.tensor(L.q_dims(), L.q_strides(), kBF16, offsets(g, u, L, kOffQ));
  u.dq = g.tensor(L.q_dims(), L.q_strides(), kBF16, offsets(g, u, L, kOffQ));
  u.dk = g.tensor(L.kv_dims(), L.kv_strides(), kBF16, offsets(g, u, L, kOffKv));
  u.dv = g.tensor(L.kv_dims(), L.kv_strides(), kBF16, offsets(g, u, L, kOffKv));
  common_inputs(g, u, L, var.stats);
  if (var.packed_aux) {
    u.softmax_sum = g.tensor(L.row_dims(), packed_strides(L.row_dims()), kF32);
    u.dq_accum = g.tensor(L.q_dims(), packed_strides(L.q_dims()), kF32);
  } else {
    u.softmax_sum = g.tensor(L.row_dims(), L.stats_strides(var.stats), kF32, offsets(g, u, L, kOffStats));
    u.dq_accum = g.tensor(L.q_dims(), L.q_strides(), kF32, offsets(g, u, L, kOffQ));
  }
  const int64_t lowest = g.scalar(std::numeric_limits<float>::lowest());
  const MatmulOverrides qk{.m = u.seq_q, .n = u.seq_kv}, kv_side{.m = u.seq_kv, .k = u.seq_q},
      q_side{.m = u.seq_q, .k = u.seq_kv};

  dout_o_rowsum(g, L, u.dout, u.o, u.softmax_sum);

  // P = exp(masks(scale * Q KT) - Stats)
  const int64_t s1 = g.virt(L.score_dims(), kF32);
  g.matmul(u.q, u.k, s1, qk);
  const int64_t s2 = g.virt(L.score_dims(), kF32);
  g.pointwise(CUDNN_POINTWISE_MUL, s2, s1, u.scale);
  int64_t s3 = padding_mask(g, L, u, s2, lowest);
  if (!var.mask_after) s3 = causal_mask(g, L, s3, lowest);
  int64_t s4 = g.virt(L.score_dims(), kF32);
  g.pointwise(CUDNN_POINTWISE_SUB, s4, s3, u.stats);
  if (var.mask_after) s4 = causal_mask(g, L, s4, lowest);
  const int64_t p = g.virt(L.score_dims(), kF32);
  g.pointwise(CUDNN_POINTWISE_EXP, p, s4);

  kv_head_grad(g, L, p, u.dout, u.dv, kv_side);  // dV = P^T dO
  const int64_t ds = score_grad(g, L, u.dout, u.v, u.softmax_sum, p, u.scale, qk);
  kv_head_grad(g, L, ds, u.q, u.dk, kv_side);  // dK = dS^T Q

  // dQ = dS K (K back from KT by a reshape that keeps K's ragged offsets, as the frontend does)
  const int64_t k_again = g.virt(L.kv_dims(), kF32, L.kv_strides(), k_off);
  g.reshape(k_again, u.k);
  g.matmul(ds, k_again, u.dq_accum, q_side);
  g.pointwise(CUDNN_POINTWISE_IDENTITY, u.dq, u.dq_accum);
}

std::string docs_text(const DocsLayout& L, bool backward) {
  return std::string("cuDNN SDPA docs ") + (backward ? "backward" : "forward") + " (T " + std::to_string(L.T) +
         ", B bucket " + std::to_string(L.B) + ", S bucket " + std::to_string(L.S) + ", Hq " + std::to_string(L.H) +
         ", Hkv " + std::to_string(L.G) + ", D " + std::to_string(L.D) + ")";
}

std::vector<Variant> variants(bool backward) {
  std::vector<Variant> all;
  const char* env = std::getenv("WEMASK_CUDNN_SDPA_DOCS_STATS");
  const std::string only = env ? env : "";
  const auto keep = [&](DocsStats s) { return only.empty() || only == stats_name(s); };
  if (!backward) {
    for (DocsStats s : {DocsStats::kThd, DocsStats::kPadded, DocsStats::kOurs})
      if (keep(s)) all.push_back({s, false, false});
    return all;
  }
  for (bool after : {false, true}) {
    if (keep(DocsStats::kThd)) {
      all.push_back({DocsStats::kThd, false, after});
      all.push_back({DocsStats::kThd, true, after});
    }
    if (keep(DocsStats::kPadded)) all.push_back({DocsStats::kPadded, true, after});
    if (keep(DocsStats::kOurs)) all.push_back({DocsStats::kOurs, false, after});
  }
  return all;
}

}  // namespace docs_detail

using namespace docs_detail;

struct CudnnSdpa::DocsEntry {
  std::unique_ptr<CudnnGraph> graph;
  CudnnPlan plan;
  DocsUids uids;
  Variant variant;
  DocsLayout layout{};
  // [cuDNN workspace | seq_len B | off_q B+1 | off_kv B+1 | off_stats B+1 | stats | softmax_sum | dQ_accum]
  Buffer workspace;
  size_t seq_off = 0, off_off[3] = {0, 0, 0}, stats_off = 0, sum_off = 0, dq_accum_off = 0;
  std::string what, rejected;

  char* ws() const { return static_cast<char*>(workspace.data()); }
  int* seq_len() const { return reinterpret_cast<int*>(ws() + seq_off); }
  int* offs(OffArray a) const { return reinterpret_cast<int*>(ws() + off_off[a]); }
  float* stats_buf() const { return reinterpret_cast<float*>(ws() + stats_off); }
  int stats_mult() const { return variant.stats == DocsStats::kThd ? int(layout.H) : 1; }
};

SdpaDocList list_documents(std::span<const int32_t> doc_start) {
  SdpaDocList l;
  const size_t T = doc_start.size();
  for (size_t t = 0; t < T;) {
    size_t e = t + 1;
    while (e < T && doc_start[e] == doc_start[t]) ++e;
    if (e - t >= 2) {
      l.begin.push_back(int32_t(t));
      l.end.push_back(int32_t(e));
      l.max_len = std::max(l.max_len, int(e - t));
    }
    t = e;
  }
  return l;
}

void CudnnSdpa::DocsEntryDeleter::operator()(DocsEntry* e) const { delete e; }

CudnnSdpa::DocsEntry& CudnnSdpa::docs_entry(const SdpaDocs& d, int q_heads, int kv_heads, int head_dim,
                                            bool backward) {
  if (d.tokens <= 0 || d.num_docs <= 0 || d.max_doc_len <= 0 || d.max_doc_len > d.tokens || !d.doc_begin ||
      !d.doc_end || q_heads <= 0 || kv_heads <= 0 || q_heads % kv_heads != 0 || head_dim <= 0 || head_dim % 8 != 0)
    throw std::runtime_error("CudnnSdpa docs: bad arguments (T " + std::to_string(d.tokens) + ", docs " +
                             std::to_string(d.num_docs) + ", max_doc_len " + std::to_string(d.max_doc_len) +
                             ", Hq " + std::to_string(q_heads) + ", Hkv " + std::to_string(kv_heads) + ", D " +
                             std::to_string(head_dim) + ")");
  if (int64_t(d.tokens) * q_heads * head_dim > std::numeric_limits<int32_t>::max())
    throw std::runtime_error("CudnnSdpa docs: T * Hq * D overflows the int32 ragged offsets");
  int dev = -1;
  CUDA_CHECK(cudaGetDevice(&dev));
  if (dev != device_)
    throw std::runtime_error("CudnnSdpa: created on device " + std::to_string(device_) + ", called on device " +
                             std::to_string(dev));
  const DocsLayout L{{std::max(8, next_pow2(d.num_docs)), std::max(128, next_pow2(d.max_doc_len)), q_heads,
                      kv_heads, head_dim, d.tokens}};
  const DocsKey key{int(L.T), int(L.B), int(L.S), q_heads, kv_heads, head_dim, backward};
  if (auto it = docs_cache_.find(key); it != docs_cache_.end()) return *it->second;

  std::unique_ptr<DocsEntry, DocsEntryDeleter> e(new DocsEntry);
  e->what = docs_text(L, backward);
  e->layout = L;
  std::string errors;
  for (const Variant& var : variants(backward)) {
    try {
      auto g = std::make_unique<CudnnGraph>();
      DocsUids u;
      if (backward) build_backward(*g, u, L, var);
      else build_forward(*g, u, L, var);
      e->plan = g->build(handle_, e->what + var.name());
      e->graph = std::move(g);
      e->uids = std::move(u);
      e->variant = var;
      break;
    } catch (const std::exception& ex) {
      errors += std::string("\n") + ex.what();
    }
  }
  if (!e->graph) throw std::runtime_error(e->what + ": no plan could be built:" + errors);
  e->rejected = errors;

  const size_t f32 = sizeof(float), rows_T = size_t(L.T * L.H) * f32, rows_BS = size_t(L.B * L.H * L.S) * f32;
  size_t off = align256(size_t(e->plan.workspace_bytes));
  e->seq_off = off;
  off += align256(size_t(L.B) * sizeof(int));
  for (size_t& o : e->off_off) {
    o = off;
    off += align256(size_t(L.B + 1) * sizeof(int));
  }
  e->stats_off = off;
  if (e->variant.stats == DocsStats::kThd) off += align256(rows_T);
  if (e->variant.stats == DocsStats::kPadded) off += align256(rows_BS);
  if (backward) {
    e->sum_off = off;
    off += align256(e->variant.packed_aux ? rows_BS : rows_T);
    e->dq_accum_off = off;
    off += align256((e->variant.packed_aux ? rows_BS : rows_T) * size_t(L.D));
  }
  e->workspace = Buffer(off, Device::CUDA);
  return *docs_cache_.emplace(key, std::move(e)).first->second;
}

std::string CudnnSdpa::prepare_docs(const SdpaDocs& docs, int q_heads, int kv_heads, int head_dim, bool backward) {
  const DocsEntry& e = docs_entry(docs, q_heads, kv_heads, head_dim, backward);
  return e.what + e.variant.name() + ": " + std::to_string(e.graph->num_ops()) + " ops, " + e.plan.heur_mode +
         " config #" + std::to_string(e.plan.engine_index) + " (engine " + std::to_string(e.plan.engine_global) +
         "), cuDNN workspace " + std::to_string(e.plan.workspace_bytes) + " B (total " +
         std::to_string(e.workspace.size()) + " B)" +
         (e.rejected.empty() ? "" : "; earlier variants rejected:" + e.rejected);
}

void CudnnSdpa::forward_docs(void* out, float* lse, const void* q, const void* k, const void* v, const SdpaDocs& docs,
                             int q_heads, int kv_heads, int head_dim, float scale, cudaStream_t stream) {
  const DocsList dl{docs.tokens, docs.num_docs, docs.doc_begin, docs.doc_end};
  if (docs.num_docs == 0) {  // padding only
    sdpa_docs_forward_finish(dl, out, lse, q, k, v, q_heads, kv_heads, head_dim, scale, DocsStats::kOurs, nullptr, 0,
                             stream);
    return;
  }
  DocsEntry& e = docs_entry(docs, q_heads, kv_heads, head_dim, false);
  sdpa_docs_offsets(dl, int(e.layout.B), q_heads, kv_heads, head_dim, e.stats_mult(), e.seq_len(), e.offs(kOffQ),
                    e.offs(kOffKv), e.offs(kOffStats), stream);
  float* stats = e.variant.stats == DocsStats::kOurs ? lse : e.stats_buf();
  e.graph->set_scalar(e.uids.scale, scale);
  CUDNN_CHECK(cudnnSetStream(handle_, stream));
  std::vector<std::pair<int64_t, void*>> data{{e.uids.q, const_cast<void*>(q)},
                                              {e.uids.k, const_cast<void*>(k)},
                                              {e.uids.v, const_cast<void*>(v)},
                                              {e.uids.o, out},
                                              {e.uids.stats, stats},
                                              {e.uids.seq_q, e.seq_len()},
                                              {e.uids.seq_kv, e.seq_len()}};
  for (const auto& [uid, which] : e.uids.offsets) data.emplace_back(uid, e.offs(which));
  e.graph->execute(handle_, e.plan, data, e.ws());
  sdpa_docs_forward_finish(dl, out, lse, q, k, v, q_heads, kv_heads, head_dim, scale, e.variant.stats, e.stats_buf(),
                           int(e.layout.S), stream);
}

void CudnnSdpa::backward_docs(void* dq, void* dk, void* dv, const void* dout, const void* q, const void* k,
                              const void* v, const void* out, const float* lse, const SdpaDocs& docs, int q_heads,
                              int kv_heads, int head_dim, float scale, cudaStream_t stream) {
  const DocsList dl{docs.tokens, docs.num_docs, docs.doc_begin, docs.doc_end};
  if (docs.num_docs > 0) {
    DocsEntry& e = docs_entry(docs, q_heads, kv_heads, head_dim, true);
    const DocsLayout& L = e.layout;
    sdpa_docs_offsets(dl, int(L.B), q_heads, kv_heads, head_dim, e.stats_mult(), e.seq_len(), e.offs(kOffQ),
                      e.offs(kOffKv), e.offs(kOffStats), stream);
    float* stats = const_cast<float*>(lse);
    if (e.variant.stats != DocsStats::kOurs) {
      stats = e.stats_buf();
      if (e.variant.stats == DocsStats::kPadded)
        CUDA_CHECK(cudaMemsetAsync(stats, 0, size_t(L.B * L.H * L.S) * sizeof(float), stream));
      sdpa_docs_backward_stats(dl, lse, q_heads, e.variant.stats, stats, int(L.S), stream);
    }
    e.graph->set_scalar(e.uids.scale, scale);
    CUDNN_CHECK(cudnnSetStream(handle_, stream));
    std::vector<std::pair<int64_t, void*>> data{{e.uids.q, const_cast<void*>(q)},
                                                {e.uids.k, const_cast<void*>(k)},
                                                {e.uids.v, const_cast<void*>(v)},
                                                {e.uids.o, const_cast<void*>(out)},
                                                {e.uids.dout, const_cast<void*>(dout)},
                                                {e.uids.stats, stats},
                                                {e.uids.dq, dq},
                                                {e.uids.dk, dk},
                                                {e.uids.dv, dv},
                                                {e.uids.softmax_sum, e.ws() + e.sum_off},
                                                {e.uids.dq_accum, e.ws() + e.dq_accum_off},
                                                {e.uids.seq_q, e.seq_len()},
                                                {e.uids.seq_kv, e.seq_len()}};
    for (const auto& [uid, which] : e.uids.offsets) data.emplace_back(uid, e.offs(which));
    e.graph->execute(handle_, e.plan, data, e.ws());
  }
  // After cuDNN, so that nothing it might write outside the documents survives.
  sdpa_docs_backward_padding(dl, dq, dk, dv, dout, q_heads, kv_heads, head_dim, stream);
}

}  // namespace wm::cuda
