// Flash-attention style backward on tensor cores, in two passes that never hold a T x T matrix
// and need no atomics (deterministic):
//   pre:  Dd[h, t] = sum_d dO[t,h,d] * O[t,h,d];  per 32-query tile, the min doc_start of its rows.
//   dK/dV: a block owns 64 keys of one kv head (4 warps x 16 keys); for every query head of the
//          group and every 32-query tile that can see these keys it recomputes
//          S^T = K Q^T, P^T = exp(scale S^T - lse), dP^T = V dO^T, dS^T = P^T (dP^T - Dd) and
//          accumulates dV += P^T dO, dK += scale dS^T Q in registers.
//          With GQA (Hq > Hkv) and few key tiles, each block takes a single query head and
//          writes fp32 partials that a small kernel sums over the group (more blocks: better
//          balance on causal); with many key tiles a block loops over the group's heads.
//   dQ:   a block owns 64 queries of one head and streams 64-key tiles like the forward:
//          dQ += scale dS K.
// The streamed tiles (Q/dO in dK/dV, K/V in dQ) are double-buffered with cp.async.
#include <climits>
#include <cstdlib>

#include "kernels/cuda/attention.h"
#include "kernels/cuda/attention_common.cuh"
#include "kernels/cuda/attention_cudnn.h"
#include "kernels/cuda/cuda_backend.h"

namespace wm::cuda {
namespace attn {
namespace {

constexpr int kWarps = 4;
constexpr int kKeysPerBlock = 64, kQueryTile = 32;  // dK/dV pass
constexpr int kBr = 64, kBc = 64;                    // dQ pass

struct BwdParams {
  const void* q;
  const void* k;
  const void* v;
  const void* out;
  const void* dout;
  const float* lse;
  const int* doc_start;
  void* dq;
  void* dk;
  void* dv;
  float* Dd;        // [Hq, T]
  float* dk_part;   // [Hq, T, D] fp32 per-query-head dK (GQA: blocks split by query head), or null
  float* dv_part;   // same for dV
  int* tile_min;    // [ceil(T / kQueryTile)]
  AttnShape s;
  float scale;
  float scale_log2;
  int* error_flag;
};

// One warp per (t, h) row: Dd = dot(dO, O).
template <class T>
__global__ void attention_backward_pre_kernel(BwdParams p) {
  const int64_t row = blockIdx.x * int64_t(blockDim.x / 32) + threadIdx.x / 32;  // row = t * Hq + h
  const int lane = threadIdx.x & 31;
  const int T_ = p.s.T, D = p.s.D;
  if (row < int64_t(T_) * p.s.Hq) {
    const T* o = static_cast<const T*>(p.out) + row * D;
    const T* d = static_cast<const T*>(p.dout) + row * D;
    float acc = 0.0f;
    for (int c = lane * 8; c < D; c += 256) {
      float a[8], b[8];
      load8(o + c, a);
      load8(d + c, b);
#pragma unroll
      for (int i = 0; i < 8; ++i) acc = fmaf(a[i], b[i], acc);
    }
    acc = warp_sum(acc);
    const int t = int(row / p.s.Hq), h = int(row % p.s.Hq);
    if (lane == 0) p.Dd[int64_t(h) * T_ + t] = acc;
  }
  // Blocks also compute the per-tile min doc_start (grid-stride over tiles, one warp each).
  const int n_tiles = (T_ + kQueryTile - 1) / kQueryTile;
  for (int tile = blockIdx.x * (blockDim.x / 32) + threadIdx.x / 32; tile < n_tiles;
       tile += gridDim.x * (blockDim.x / 32)) {
    const int t = tile * kQueryTile + lane;
    int ds = INT_MAX;
    if (t < T_) {
      ds = p.doc_start[t];
      if (ds < 0 || ds > t) {
        raise_error(p.error_flag, kDocStartInvalid);
        ds = t;
      }
    }
#pragma unroll
    for (int o = 16; o > 0; o >>= 1) ds = min(ds, __shfl_xor_sync(0xffffffffu, ds, o));
    if (lane == 0) p.tile_min[tile] = ds;
  }
}

template <class T, int kD>
__global__ void __launch_bounds__(kWarps * 32) attention_backward_dkdv_kernel(BwdParams p) {
  constexpr int ld = kD + kPad;
  extern __shared__ __align__(16) unsigned char smem_raw[];
  bf16_t* Ks = reinterpret_cast<bf16_t*>(smem_raw);
  bf16_t* Vs = Ks + kKeysPerBlock * ld;
  constexpr int kQTile = kQueryTile * ld;
  bf16_t* Qs = Vs + kKeysPerBlock * ld;  // two buffers
  bf16_t* dOs = Qs + 2 * kQTile;         // two buffers
  __shared__ float s_lse2[2][kQueryTile], s_Dd[2][kQueryTile];
  __shared__ int s_ds[2][kQueryTile];

  const int T_ = p.s.T, D = p.s.D;
  const int group = p.s.Hq / p.s.Hkv;
  // With GQA partials, each block handles one query head of the group (more, shorter blocks);
  // the heaviest (first) key tiles are scheduled first.
  const int split = p.dk_part ? group : 1;
  const int kvh = blockIdx.x / split, k0 = blockIdx.y * kKeysPerBlock;
  const int hh_first = blockIdx.x % split, hh_end = split > 1 ? hh_first + 1 : group;
  const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31, g = lane >> 2, c4 = lane & 3;
  const int64_t q_stride = int64_t(p.s.Hq) * D, kv_stride = int64_t(p.s.Hkv) * D;
  const int key_last = min(k0 + kKeysPerBlock - 1, T_ - 1);

  load_tile<kKeysPerBlock, kD>(Ks, static_cast<const T*>(p.k) + int64_t(kvh) * D, kv_stride, k0, T_, D);
  load_tile<kKeysPerBlock, kD>(Vs, static_cast<const T*>(p.v) + int64_t(kvh) * D, kv_stride, k0, T_, D);

  float dk[kD / 8][4], dv[kD / 8][4];
#pragma unroll
  for (int j = 0; j < kD / 8; ++j)
#pragma unroll
    for (int e = 0; e < 4; ++e) dk[j][e] = dv[j][e] = 0.0f;

  const int key_lo = k0 + warp * 16 + g, key_hi = key_lo + 8;
  const int n_tiles = (T_ + kQueryTile - 1) / kQueryTile;
  const int first_tile = k0 / kQueryTile;
  // Work items: (query head of the group, query tile that can see these keys), in order.
  // Block-uniform (tile_min is read from global memory by every thread alike).
  auto next_item = [&](int hh, int tile, int& nh, int& nt) -> bool {
    for (++tile;; ++tile) {
      if (tile >= n_tiles) {
        if (++hh >= hh_end) return false;
        tile = first_tile;
      }
      if (p.tile_min[tile] <= key_last) {
        nh = hh;
        nt = tile;
        return true;
      }
    }
  };
  // Q/dO tiles and their row statistics are double-buffered: item i+1 loads during item i.
  auto issue = [&](int hh, int tile, int b) {
    const int h = kvh * group + hh, qt0 = tile * kQueryTile;
    load_tile_async<kQueryTile, kD>(Qs + b * kQTile, static_cast<const T*>(p.q) + int64_t(h) * D, q_stride, qt0, T_, D);
    load_tile_async<kQueryTile, kD>(dOs + b * kQTile, static_cast<const T*>(p.dout) + int64_t(h) * D, q_stride, qt0,
                                    T_, D);
    if (threadIdx.x < kQueryTile) {
      const int t = qt0 + threadIdx.x;
      const bool valid = t < T_;
      s_lse2[b][threadIdx.x] = valid ? p.lse[int64_t(h) * T_ + t] * kLog2e : 0.0f;
      s_Dd[b][threadIdx.x] = valid ? p.Dd[int64_t(h) * T_ + t] : 0.0f;
      s_ds[b][threadIdx.x] = valid ? min(max(p.doc_start[t], 0), t) : INT_MAX;
    }
  };
  int hh = 0, tile = 0, buf = 0;
  bool have = next_item(hh_first, first_tile - 1, hh, tile);
  if (have) issue(hh, tile, 0);
  while (have) {
    int nh = 0, nt = 0;
    const bool more = next_item(hh, tile, nh, nt);
    cp_async_wait_all();
    __syncthreads();  // item landed; every warp is done with the other buffer
    if (more) issue(nh, nt, buf ^ 1);
    const int qt0 = tile * kQueryTile;
    const bf16_t* Qt = Qs + buf * kQTile;
    const bf16_t* dOt = dOs + buf * kQTile;
    const float* lse2 = s_lse2[buf];
    const float* Dd = s_Dd[buf];
    const int* dst = s_ds[buf];
    hh = nh;
    tile = nt;
    have = more;
    buf ^= 1;
    if (qt0 + kQueryTile - 1 < k0 + warp * 16) continue;  // causal: all queries before these keys

    // S^T and dP^T: 16 keys x 32 queries per warp.
    float st[kQueryTile / 8][4], dpt[kQueryTile / 8][4];
#pragma unroll
    for (int j = 0; j < kQueryTile / 8; ++j)
#pragma unroll
      for (int e = 0; e < 4; ++e) st[j][e] = dpt[j][e] = 0.0f;
#pragma unroll
    for (int kk = 0; kk < kD / 16; ++kk) {
      uint32_t ka[4], va[4];
      load_a(ka, Ks, ld, warp * 16, kk * 16);
      load_a(va, Vs, ld, warp * 16, kk * 16);
#pragma unroll
      for (int np = 0; np < kQueryTile / 16; ++np) {
        uint32_t b[4];
        load_b_nk(b, Qt, ld, np * 16, kk * 16);
        mma_bf16(st[2 * np], ka, b[0], b[1]);
        mma_bf16(st[2 * np + 1], ka, b[2], b[3]);
        load_b_nk(b, dOt, ld, np * 16, kk * 16);
        mma_bf16(dpt[2 * np], va, b[0], b[1]);
        mma_bf16(dpt[2 * np + 1], va, b[2], b[3]);
      }
    }
    // P^T (in st) and dS^T (in dpt).
#pragma unroll
    for (int j = 0; j < kQueryTile / 8; ++j) {
#pragma unroll
      for (int e = 0; e < 4; ++e) {
        const int qc = j * 8 + c4 * 2 + (e & 1);
        const int query = qt0 + qc;
        const int key = e < 2 ? key_lo : key_hi;
        const bool ok = key <= query && key >= dst[qc];
        const float pr = ok ? exp2f(st[j][e] * p.scale_log2 - lse2[qc]) : 0.0f;
        st[j][e] = pr;
        dpt[j][e] = pr * (dpt[j][e] - Dd[qc]);
      }
    }
    // dV += P^T dO, dK += dS^T Q  (k = the 32 queries).
#pragma unroll
    for (int kk = 0; kk < kQueryTile / 16; ++kk) {
      uint32_t pa[4], sa[4];
      c_to_a(pa, st[2 * kk], st[2 * kk + 1]);
      c_to_a(sa, dpt[2 * kk], dpt[2 * kk + 1]);
#pragma unroll
      for (int dp = 0; dp < kD / 16; ++dp) {
        uint32_t b[4];
        load_b_kn(b, dOt, ld, dp * 16, kk * 16);
        mma_bf16(dv[2 * dp], pa, b[0], b[1]);
        mma_bf16(dv[2 * dp + 1], pa, b[2], b[3]);
        load_b_kn(b, Qt, ld, dp * 16, kk * 16);
        mma_bf16(dk[2 * dp], sa, b[0], b[1]);
        mma_bf16(dk[2 * dp + 1], sa, b[2], b[3]);
      }
    }
  }

  T* dkh = static_cast<T*>(p.dk) + int64_t(kvh) * D;
  T* dvh = static_cast<T*>(p.dv) + int64_t(kvh) * D;
#pragma unroll
  for (int r = 0; r < 2; ++r) {
    const int key = r == 0 ? key_lo : key_hi;
    if (key >= T_) continue;
#pragma unroll
    for (int j = 0; j < kD / 8; ++j) {
      const int col = j * 8 + c4 * 2;
      if (col >= D) continue;
      if (p.dk_part) {  // fp32 partials of query head h; reduced (and scaled) by the reduce kernel
        const int64_t off = (int64_t(kvh * group + hh_first) * T_ + key) * D + col;
        *reinterpret_cast<float2*>(p.dk_part + off) = make_float2(dk[j][2 * r], dk[j][2 * r + 1]);
        *reinterpret_cast<float2*>(p.dv_part + off) = make_float2(dv[j][2 * r], dv[j][2 * r + 1]);
      } else {
        store_pair(dkh + int64_t(key) * kv_stride + col, dk[j][2 * r] * p.scale, dk[j][2 * r + 1] * p.scale);
        store_pair(dvh + int64_t(key) * kv_stride + col, dv[j][2 * r], dv[j][2 * r + 1]);
      }
    }
  }
}

template <class T, int kD>
__global__ void __launch_bounds__(kWarps * 32) attention_backward_dq_kernel(BwdParams p) {
  constexpr int ld = kD + kPad;
  extern __shared__ __align__(16) unsigned char smem_raw[];
  bf16_t* Qs = reinterpret_cast<bf16_t*>(smem_raw);
  bf16_t* dOs = Qs + kBr * ld;
  constexpr int kTile = kBc * ld;
  bf16_t* Ks = dOs + kBr * ld;   // two buffers
  bf16_t* Vs = Ks + 2 * kTile;   // two buffers
  __shared__ int s_kmin;

  const int T_ = p.s.T, D = p.s.D;
  const int h = blockIdx.x, q0 = (gridDim.y - 1 - blockIdx.y) * kBr;  // heaviest tiles first
  const int kvh = h / (p.s.Hq / p.s.Hkv);
  const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31, g = lane >> 2, c4 = lane & 3;
  const int64_t q_stride = int64_t(p.s.Hq) * D, kv_stride = int64_t(p.s.Hkv) * D;
  const T* k = static_cast<const T*>(p.k) + int64_t(kvh) * D;
  const T* v = static_cast<const T*>(p.v) + int64_t(kvh) * D;

  if (threadIdx.x == 0) s_kmin = INT_MAX;
  __syncthreads();
  if (threadIdx.x < kBr && q0 + threadIdx.x < T_) {
    const int row = q0 + threadIdx.x;
    atomicMin(&s_kmin, min(max(p.doc_start[row], 0), row));
  }
  load_tile<kBr, kD>(Qs, static_cast<const T*>(p.q) + int64_t(h) * D, q_stride, q0, T_, D);
  load_tile<kBr, kD>(dOs, static_cast<const T*>(p.dout) + int64_t(h) * D, q_stride, q0, T_, D);
  __syncthreads();
  const int kmin = s_kmin, kmax = min(q0 + kBr - 1, T_ - 1);

  const int row_lo = q0 + warp * 16 + g, row_hi = row_lo + 8;
  int ds[2], rows[2] = {row_lo, row_hi};
  float lse2[2], Dd[2];
#pragma unroll
  for (int r = 0; r < 2; ++r) {
    const bool valid = rows[r] < T_;
    ds[r] = valid ? min(max(p.doc_start[rows[r]], 0), rows[r]) : INT_MAX;
    lse2[r] = valid ? p.lse[int64_t(h) * T_ + rows[r]] * kLog2e : 0.0f;
    Dd[r] = valid ? p.Dd[int64_t(h) * T_ + rows[r]] : 0.0f;
  }

  float dq[kD / 8][4];
#pragma unroll
  for (int j = 0; j < kD / 8; ++j) dq[j][0] = dq[j][1] = dq[j][2] = dq[j][3] = 0.0f;

  const int warp_first_row = q0 + warp * 16, warp_last_row = warp_first_row + 15;
  int warp_max_ds = max(rows[0] < T_ ? ds[0] : 0, rows[1] < T_ ? ds[1] : 0);
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) warp_max_ds = max(warp_max_ds, __shfl_xor_sync(0xffffffffu, warp_max_ds, o));
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
    if (kb > warp_last_row) continue;
    const bf16_t* Kt = Ks + buf * kTile;
    const bf16_t* Vt = Vs + buf * kTile;
    const bool full = kb + kBc - 1 <= warp_first_row && kb >= warp_max_ds;

    float s[kBc / 8][4], dp[kBc / 8][4];
#pragma unroll
    for (int j = 0; j < kBc / 8; ++j)
#pragma unroll
      for (int e = 0; e < 4; ++e) s[j][e] = dp[j][e] = 0.0f;
#pragma unroll
    for (int kk = 0; kk < kD / 16; ++kk) {
      uint32_t qa[4], da[4];
      load_a(qa, Qs, ld, warp * 16, kk * 16);
      load_a(da, dOs, ld, warp * 16, kk * 16);
#pragma unroll
      for (int np = 0; np < kBc / 16; ++np) {
        uint32_t b[4];
        load_b_nk(b, Kt, ld, np * 16, kk * 16);
        mma_bf16(s[2 * np], qa, b[0], b[1]);
        mma_bf16(s[2 * np + 1], qa, b[2], b[3]);
        load_b_nk(b, Vt, ld, np * 16, kk * 16);
        mma_bf16(dp[2 * np], da, b[0], b[1]);
        mma_bf16(dp[2 * np + 1], da, b[2], b[3]);
      }
    }
#pragma unroll
    for (int j = 0; j < kBc / 8; ++j) {
#pragma unroll
      for (int e = 0; e < 4; ++e) {
        const int r = e >> 1;
        const int key = kb + j * 8 + c4 * 2 + (e & 1);
        const bool ok = full || (key <= rows[r] && key >= ds[r]);
        const float pr = ok ? exp2f(s[j][e] * p.scale_log2 - lse2[r]) : 0.0f;
        dp[j][e] = pr * (dp[j][e] - Dd[r]);
      }
    }
    // dQ += dS K  (k = the 64 keys, B from K stored [key][dim]).
#pragma unroll
    for (int kk = 0; kk < kBc / 16; ++kk) {
      uint32_t a[4];
      c_to_a(a, dp[2 * kk], dp[2 * kk + 1]);
#pragma unroll
      for (int dpi = 0; dpi < kD / 16; ++dpi) {
        uint32_t b[4];
        load_b_kn(b, Kt, ld, dpi * 16, kk * 16);
        mma_bf16(dq[2 * dpi], a, b[0], b[1]);
        mma_bf16(dq[2 * dpi + 1], a, b[2], b[3]);
      }
    }
  }

  T* dqh = static_cast<T*>(p.dq) + int64_t(h) * D;
#pragma unroll
  for (int r = 0; r < 2; ++r) {
    if (rows[r] >= T_) continue;
#pragma unroll
    for (int j = 0; j < kD / 8; ++j) {
      const int col = j * 8 + c4 * 2;
      if (col < D) store_pair(dqh + int64_t(rows[r]) * q_stride + col, dq[j][2 * r] * p.scale, dq[j][2 * r + 1] * p.scale);
    }
  }
}

// dK[t, kvh] = scale * sum over the group's query heads of the fp32 partials; dV likewise.
template <class T>
__global__ void attention_backward_reduce_kernel(BwdParams p) {
  const int64_t idx = blockIdx.x * int64_t(blockDim.x) + threadIdx.x;
  const int T_ = p.s.T, D = p.s.D, group = p.s.Hq / p.s.Hkv;
  if (idx >= int64_t(T_) * p.s.Hkv * D) return;
  const int64_t t = idx / (int64_t(p.s.Hkv) * D);
  const int kvh = int(idx / D % p.s.Hkv), d = int(idx % D);
  float sk = 0.0f, sv = 0.0f;
  for (int hh = 0; hh < group; ++hh) {
    const int64_t off = (int64_t(kvh * group + hh) * T_ + t) * D + d;
    sk += p.dk_part[off];
    sv += p.dv_part[off];
  }
  static_cast<T*>(p.dk)[idx] = from_f<T>(sk * p.scale);
  static_cast<T*>(p.dv)[idx] = from_f<T>(sv);
}

// GQA (Hq > Hkv): split the dK/dV blocks by query head (fp32 partials + a reduction kernel) only
// when one block per (kv head, key tile) would leave the GPU short of blocks (under 2 waves of 2
// blocks per SM); otherwise each block loops over its group's query heads and writes dK/dV
// directly, saving the partials' memory traffic and the reduction.
// WEMASK_ATTN_GQA_SPLIT=0|1 forces one path (tests cover both).
bool split_gqa_backward(const AttnShape& s, int sm_count) {
  if (s.Hq == s.Hkv) return false;
  if (const char* e = std::getenv("WEMASK_ATTN_GQA_SPLIT"); e && *e) return std::atoi(e) != 0;
  const int64_t blocks = int64_t(s.Hkv) * ((s.T + kKeysPerBlock - 1) / kKeysPerBlock);
  // H100, seq 2048: no split at 0.6B (2048 blocks) +3.2%, at 1.7B (1024 blocks) +1.8% tokens/s.
  return blocks < int64_t(4) * sm_count;
}

template <class Kernel>
void allow_smem(Kernel kernel, size_t smem) {
  CUDA_CHECK(cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, int(smem)));
}

template <class T, int kD>
void launch_backward(const BwdParams& p) {
  constexpr int ld = kD + kPad;
  cudaStream_t st = stream();
  const int64_t rows = int64_t(p.s.T) * p.s.Hq;
  attention_backward_pre_kernel<T><<<unsigned((rows + 7) / 8), 256, 0, st>>>(p);
  CUDA_CHECK_LAUNCH("attention_backward_pre_kernel");

  const size_t smem_kv = size_t(2 * kKeysPerBlock + 4 * kQueryTile) * ld * sizeof(bf16_t);
  const size_t smem_q = size_t(2 * kBr + 4 * kBc) * ld * sizeof(bf16_t);
  static const bool configured = [&] {
    allow_smem(attention_backward_dkdv_kernel<T, kD>, smem_kv);
    allow_smem(attention_backward_dq_kernel<T, kD>, smem_q);
    return true;
  }();
  (void)configured;
  attention_backward_dkdv_kernel<T, kD>
      <<<dim3(p.dk_part ? p.s.Hq : p.s.Hkv, (p.s.T + kKeysPerBlock - 1) / kKeysPerBlock), kWarps * 32, smem_kv, st>>>(p);
  CUDA_CHECK_LAUNCH("attention_backward_dkdv_kernel");
  if (p.dk_part) {
    const int64_t n = int64_t(p.s.T) * p.s.Hkv * p.s.D;
    attention_backward_reduce_kernel<T><<<grid_for(n, 256, INT32_MAX), 256, 0, st>>>(p);
    CUDA_CHECK_LAUNCH("attention_backward_reduce_kernel");
  }
  attention_backward_dq_kernel<T, kD><<<dim3(p.s.Hq, (p.s.T + kBr - 1) / kBr), kWarps * 32, smem_q, st>>>(p);
  CUDA_CHECK_LAUNCH("attention_backward_dq_kernel");
}

}  // namespace
}  // namespace attn

void CudaBackend::attention_backward(Tensor dq, Tensor dk, Tensor dv, const Tensor& dout, const Tensor& q,
                                     const Tensor& k, const Tensor& v, const Tensor& out, const Tensor& lse,
                                     const Tensor& doc_start, float scale, const AttnDocs& docs) {
  const char* op = "attention_backward";
  const attn::AttnShape s = attn::check_attention(op, q, k, v, doc_start);
  for (auto [name, t] : {std::pair{"dout", &dout}, std::pair{"out", &out}}) {
    check_dtype(op, name, *t, q.dtype);
    check_shape(op, name, *t, {s.T, s.Hq, s.D});
    attn::check_aligned(op, name, *t);
  }
  check_dtype(op, "dq", dq, q.dtype);
  check_shape(op, "dq", dq, {s.T, s.Hq, s.D});
  check_dtype(op, "dk", dk, q.dtype);
  check_shape(op, "dk", dk, {s.T, s.Hkv, s.D});
  check_dtype(op, "dv", dv, q.dtype);
  check_shape(op, "dv", dv, {s.T, s.Hkv, s.D});
  check_dtype(op, "lse", lse, DType::F32);
  check_shape(op, "lse", lse, {s.Hq, s.T});
  if (s.T == 0) return;
  if (const auto shape = attn::cudnn_shape(s, q.dtype, docs)) {
    const bool done = attn::run_cudnn(op, [&](CudnnSdpa& sdpa) {
      sdpa.backward(dq.data, dk.data, dv.data, dout.data, q.data, k.data, v.data, out.data,
                    static_cast<const float*>(lse.data), *shape, scale, stream());
    });
    if (done) return;
  } else if (const auto d = attn::cudnn_docs(s, q.dtype, docs)) {
    const bool done = attn::run_cudnn(op, [&](CudnnSdpa& sdpa) {
      sdpa.backward_docs(dq.data, dk.data, dv.data, dout.data, q.data, k.data, v.data, out.data,
                         static_cast<const float*>(lse.data), *d, s.Hq, s.Hkv, s.D, scale, stream());
    });
    if (done) return;
  }
  auto& ctx = CudaContext::get();
  const size_t n_dd = (size_t(s.T) * s.Hq + 3) / 4 * 4;  // 16-byte aligned sections
  const size_t n_tiles = (size_t(s.T) + attn::kQueryTile - 1) / attn::kQueryTile;
  const bool split = attn::split_gqa_backward(s, ctx.sm_count());
  const size_t n_part = split ? size_t(s.Hq) * s.T * s.D : 0;
  const size_t n_tiles_aligned = (n_tiles + 3) / 4 * 4;  // keeps the partials 16-byte aligned
  float* Dd = static_cast<float*>(
      ctx.workspace((n_dd + 2 * n_part) * sizeof(float) + n_tiles_aligned * sizeof(int)));
  int* tile_min = reinterpret_cast<int*>(Dd + n_dd);
  float* dk_part = split ? reinterpret_cast<float*>(tile_min + n_tiles_aligned) : nullptr;
  float* dv_part = split ? dk_part + n_part : nullptr;
  const attn::BwdParams p{q.data, k.data, v.data, out.data, dout.data, static_cast<const float*>(lse.data),
                          doc_start.ptr<const int32_t>(), dq.data, dk.data, dv.data, Dd, dk_part, dv_part, tile_min, s, scale,
                          scale * attn::kLog2e, ctx.error_flag()};
  dispatch_float(op, q, [&]<class T>() {
    attn::dispatch_head_dim(op, s.D, [&]<int kD>() { attn::launch_backward<T, kD>(p); });
  });
}

}  // namespace wm::cuda
