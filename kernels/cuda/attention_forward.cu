// Flash-attention-2 style forward on tensor cores: a block owns 64 queries of one head (4 warps x
// 16 rows), streams 64-key tiles of K and V through shared memory and keeps an online softmax
// (running max m and sum l per row, in the exp2 domain) so no T x T matrix exists.
// Key range of a query tile: [min doc_start of its rows, its last row]; the mask
// doc_start[q] <= j <= q is applied per element. lse (natural log) is saved for backward.
#include <climits>

#include "kernels/cuda/attention.h"
#include "kernels/cuda/attention_common.cuh"
#include "kernels/cuda/attention_cudnn.h"
#include "kernels/cuda/cuda_backend.h"

namespace wm::cuda {
namespace attn {
namespace {

constexpr int kBr = 64, kBc = 64, kWarps = 4;
constexpr int kBlocksPerSm = 3;  // 12 warps per SM: registers capped at 168, smem 68 KiB per block

struct FwdParams {
  const void* q;
  const void* k;
  const void* v;
  void* out;
  float* lse;
  const int* doc_start;
  AttnShape s;
  float scale_log2;
  int* error_flag;
};

template <class T, int kD>
__global__ void __launch_bounds__(kWarps * 32, kBlocksPerSm) attention_forward_kernel(FwdParams p) {
  constexpr int ld = kD + kPad;
  extern __shared__ __align__(16) unsigned char smem_raw[];
  constexpr int kTile = kBc * ld;
  bf16_t* Ks = reinterpret_cast<bf16_t*>(smem_raw);  // two buffers
  bf16_t* Vs = Ks + 2 * kTile;                        // two buffers
  // The Q tile borrows K's second buffer: Q lives in registers (qf) before that buffer is first
  // filled (after the loop's first barrier). 4 tiles of smem instead of 5: 3 blocks per SM.
  static_assert(kBr == kBc, "Q aliases a K buffer");
  bf16_t* Qs = Ks + kTile;
  __shared__ int s_kmin;

  const int T_ = p.s.T, D = p.s.D;
  // Heaviest (last) query tiles are scheduled first: blocks are dispatched in blockIdx order.
  const int h = blockIdx.x, q0 = (gridDim.y - 1 - blockIdx.y) * kBr;
  const int kvh = h / (p.s.Hq / p.s.Hkv);
  const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31, g = lane >> 2, c4 = lane & 3;
  const T* q = static_cast<const T*>(p.q) + int64_t(h) * D;
  const T* k = static_cast<const T*>(p.k) + int64_t(kvh) * D;
  const T* v = static_cast<const T*>(p.v) + int64_t(kvh) * D;
  const int64_t q_stride = int64_t(p.s.Hq) * D, kv_stride = int64_t(p.s.Hkv) * D;

  if (threadIdx.x == 0) s_kmin = INT_MAX;
  __syncthreads();
  if (threadIdx.x < kBr && q0 + threadIdx.x < T_) {
    const int row = q0 + threadIdx.x;
    int ds = p.doc_start[row];
    if (ds < 0 || ds > row) {
      raise_error(p.error_flag, kDocStartInvalid);
      ds = row;
    }
    atomicMin(&s_kmin, ds);
  }
  load_tile<kBr, kD>(Qs, q, q_stride, q0, T_, D);
  __syncthreads();
  const int kmin = s_kmin, kmax = min(q0 + kBr - 1, T_ - 1);

  // This thread's two rows and their document starts (clamped like above).
  const int row_lo = q0 + warp * 16 + g, row_hi = row_lo + 8;
  const int ds_lo = row_lo < T_ ? min(max(p.doc_start[row_lo], 0), row_lo) : 0;
  const int ds_hi = row_hi < T_ ? min(max(p.doc_start[row_hi], 0), row_hi) : 0;

  uint32_t qf[kD / 16][4];
#pragma unroll
  for (int kk = 0; kk < kD / 16; ++kk) load_a(qf[kk], Qs, ld, warp * 16, kk * 16);

  float o[kD / 8][4];
#pragma unroll
  for (int j = 0; j < kD / 8; ++j) o[j][0] = o[j][1] = o[j][2] = o[j][3] = 0.0f;
  float m[2] = {-INFINITY, -INFINITY}, l[2] = {0.0f, 0.0f};

  const int warp_first_row = q0 + warp * 16, warp_last_row = warp_first_row + 15;
  int warp_max_ds = max(ds_lo, ds_hi);
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) warp_max_ds = max(warp_max_ds, __shfl_xor_sync(0xffffffffu, warp_max_ds, o));

  // K/V tiles are double-buffered: the copy of tile i+1 (cp.async) overlaps the math on tile i.
  const int kb_first = (kmin / kBc) * kBc;
  int buf = 0;
  load_tile_async<kBc, kD>(Ks, k, kv_stride, kb_first, T_, D);
  load_tile_async<kBc, kD>(Vs, v, kv_stride, kb_first, T_, D);
  for (int kb = kb_first; kb <= kmax; kb += kBc, buf ^= 1) {
    cp_async_wait_all();
    __syncthreads();  // tile kb has landed, and every warp is done with the other buffer
    if (kb + kBc <= kmax) {
      load_tile_async<kBc, kD>(Ks + (buf ^ 1) * kTile, k, kv_stride, kb + kBc, T_, D);
      load_tile_async<kBc, kD>(Vs + (buf ^ 1) * kTile, v, kv_stride, kb + kBc, T_, D);
    }
    if (kb > warp_last_row) continue;  // causal: no row of this warp sees these keys
    const bf16_t* Kt = Ks + buf * kTile;
    const bf16_t* Vt = Vs + buf * kTile;
    // No element of the tile is masked for this warp: every key <= first row and >= every doc start.
    const bool full = kb + kBc - 1 <= warp_first_row && kb >= warp_max_ds;

    float s[kBc / 8][4];
#pragma unroll
    for (int j = 0; j < kBc / 8; ++j) s[j][0] = s[j][1] = s[j][2] = s[j][3] = 0.0f;
#pragma unroll
    for (int kk = 0; kk < kD / 16; ++kk) {
#pragma unroll
      for (int np = 0; np < kBc / 16; ++np) {
        uint32_t b[4];
        load_b_nk(b, Kt, ld, np * 16, kk * 16);
        mma_bf16(s[2 * np], qf[kk], b[0], b[1]);
        mma_bf16(s[2 * np + 1], qf[kk], b[2], b[3]);
      }
    }

    // Mask, scale into the log2 domain, and update the running max.
    float tile_max[2] = {-INFINITY, -INFINITY};
#pragma unroll
    for (int j = 0; j < kBc / 8; ++j) {
#pragma unroll
      for (int e = 0; e < 4; ++e) {
        const int key = kb + j * 8 + c4 * 2 + (e & 1);
        const int row = e < 2 ? row_lo : row_hi;
        const int ds = e < 2 ? ds_lo : ds_hi;
        const bool ok = full || (key <= row && key >= ds);
        s[j][e] = ok ? s[j][e] * p.scale_log2 : -INFINITY;
        tile_max[e >> 1] = fmaxf(tile_max[e >> 1], s[j][e]);
      }
    }
    float m_use[2];
#pragma unroll
    for (int r = 0; r < 2; ++r) {
      float mx = tile_max[r];
      mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, 1));
      mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, 2));
      const float m_new = fmaxf(m[r], mx);
      m_use[r] = m_new == -INFINITY ? 0.0f : m_new;
      const float alpha = exp2f(m[r] - m_use[r]);
      m[r] = m_new;
      l[r] *= alpha;
#pragma unroll
      for (int j = 0; j < kD / 8; ++j) {
        o[j][2 * r] *= alpha;
        o[j][2 * r + 1] *= alpha;
      }
    }
#pragma unroll
    for (int j = 0; j < kBc / 8; ++j) {
#pragma unroll
      for (int e = 0; e < 4; ++e) {
        s[j][e] = exp2f(s[j][e] - m_use[e >> 1]);
        l[e >> 1] += s[j][e];
      }
    }

    // O += P V
#pragma unroll
    for (int kk = 0; kk < kBc / 16; ++kk) {
      uint32_t a[4];
      c_to_a(a, s[2 * kk], s[2 * kk + 1]);
#pragma unroll
      for (int dp = 0; dp < kD / 16; ++dp) {
        uint32_t b[4];
        load_b_kn(b, Vt, ld, dp * 16, kk * 16);
        mma_bf16(o[2 * dp], a, b[0], b[1]);
        mma_bf16(o[2 * dp + 1], a, b[2], b[3]);
      }
    }
  }

  T* out = static_cast<T*>(p.out) + int64_t(h) * D;
#pragma unroll
  for (int r = 0; r < 2; ++r) {
    float sum = l[r];
    sum += __shfl_xor_sync(0xffffffffu, sum, 1);
    sum += __shfl_xor_sync(0xffffffffu, sum, 2);
    const int row = r == 0 ? row_lo : row_hi;
    if (row >= T_) continue;
    const float inv = sum > 0.0f ? 1.0f / sum : 0.0f;
    T* orow = out + int64_t(row) * q_stride;
#pragma unroll
    for (int j = 0; j < kD / 8; ++j) {
      const int col = j * 8 + c4 * 2;
      if (col < D) store_pair(orow + col, o[j][2 * r] * inv, o[j][2 * r + 1] * inv);
    }
    if (c4 == 0) {
      const float m_fin = m[r] == -INFINITY ? 0.0f : m[r];
      p.lse[int64_t(h) * T_ + row] = sum > 0.0f ? (m_fin + __log2f(sum)) * kLn2 : -INFINITY;
    }
  }
}

template <class T, int kD>
void launch_forward(const FwdParams& p) {
  constexpr int ld = kD + kPad;
  const size_t smem = size_t(4 * kBc) * ld * sizeof(bf16_t);
  static const bool configured = [&] {
    CUDA_CHECK(cudaFuncSetAttribute(attention_forward_kernel<T, kD>, cudaFuncAttributeMaxDynamicSharedMemorySize,
                                    int(smem)));
    return true;
  }();
  (void)configured;
  const dim3 grid(p.s.Hq, (p.s.T + kBr - 1) / kBr);
  attention_forward_kernel<T, kD><<<grid, kWarps * 32, smem, stream()>>>(p);
  CUDA_CHECK_LAUNCH("attention_forward_kernel");
}

}  // namespace
}  // namespace attn

void CudaBackend::attention_forward(Tensor out, Tensor lse, const Tensor& q, const Tensor& k, const Tensor& v,
                                    const Tensor& doc_start, float scale, const AttnDocs& docs) {
  const char* op = "attention_forward";
  const attn::AttnShape s = attn::check_attention(op, q, k, v, doc_start);
  check_dtype(op, "out", out, q.dtype);
  check_shape(op, "out", out, {s.T, s.Hq, s.D});
  check_dtype(op, "lse", lse, DType::F32);
  check_shape(op, "lse", lse, {s.Hq, s.T});
  attn::check_aligned(op, "out", out);
  if (s.T == 0) return;
  if (const auto shape = attn::cudnn_shape(s, q.dtype, docs)) {
    const bool done = attn::run_cudnn(op, [&](CudnnSdpa& sdpa) {
      sdpa.forward(out.data, static_cast<float*>(lse.data), q.data, k.data, v.data, *shape, scale, stream());
    });
    if (done) return;
  } else if (const auto d = attn::cudnn_docs(s, q.dtype, docs)) {
    const bool done = attn::run_cudnn(op, [&](CudnnSdpa& sdpa) {
      sdpa.forward_docs(out.data, static_cast<float*>(lse.data), q.data, k.data, v.data, *d, s.Hq, s.Hkv, s.D, scale,
                        stream());
    });
    if (done) return;
  }
  const attn::FwdParams p{q.data, k.data, v.data, out.data, static_cast<float*>(lse.data), doc_start.ptr<const int32_t>(),
                          s, scale * attn::kLog2e, CudaContext::get().error_flag()};
  dispatch_float(op, q, [&]<class T>() {
    attn::dispatch_head_dim(op, s.D, [&]<int kD>() { attn::launch_forward<T, kD>(p); });
  });
}

}  // namespace wm::cuda
