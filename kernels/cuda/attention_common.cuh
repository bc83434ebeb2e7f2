// Building blocks of the flash-attention kernels: bf16 tensor-core MMA (m16n8k16, fp32
// accumulate) through inline PTX, ldmatrix fragment loads from padded shared-memory tiles, and a
// global->shared tile loader (f32 inputs are rounded to bf16 on the way in).
//
// Fragment layouts of mma.m16n8k16 (g = lane / 4, c = lane % 4):
//   A 16x16: a0 = (g, 2c..2c+1), a1 = (g+8, 2c..), a2 = (g, 2c+8..), a3 = (g+8, 2c+8..)
//   B 16x8 : b0 = (k 2c..2c+1, n g), b1 = (k 2c+8.., n g)
//   C 16x8 : c0,c1 = (g, 2c..2c+1), c2,c3 = (g+8, 2c..2c+1)
// Two adjacent C tiles (16 columns) therefore form exactly one A fragment over those columns,
// which is how probabilities P go from the S = QK^T accumulator into the P V product.
#pragma once
#include <cuda_bf16.h>

#include <cstdint>

#include "kernels/cuda/cuda_common.cuh"

namespace wm::cuda::attn {

constexpr int kPad = 8;  // row padding (elements): 16 B shifts rows across banks for ldmatrix

__device__ __forceinline__ void mma_bf16(float (&c)[4], const uint32_t (&a)[4], uint32_t b0, uint32_t b1) {
  asm volatile(
      "mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, "
      "{%0,%1,%2,%3};\n"
      : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
      : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
}

__device__ __forceinline__ void ldmatrix_x4(uint32_t (&r)[4], const bf16_t* p) {
  const uint32_t addr = static_cast<uint32_t>(__cvta_generic_to_shared(p));
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0,%1,%2,%3}, [%4];\n"
               : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
               : "r"(addr));
}

__device__ __forceinline__ void ldmatrix_x4_trans(uint32_t (&r)[4], const bf16_t* p) {
  const uint32_t addr = static_cast<uint32_t>(__cvta_generic_to_shared(p));
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16 {%0,%1,%2,%3}, [%4];\n"
               : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
               : "r"(addr));
}

// A fragment (16 rows x 16 k) of a row-major tile [rows][ld] at (row0, k0).
__device__ __forceinline__ void load_a(uint32_t (&a)[4], const bf16_t* tile, int ld, int row0, int k0) {
  const int lane = threadIdx.x & 31;
  ldmatrix_x4(a, tile + (row0 + (lane & 15)) * ld + k0 + (lane >> 4) * 8);
}

// B fragments of two n-tiles (n0, n0+8) at k0 from a tile stored [n][k] (B = tile^T, e.g. K for
// Q K^T): b[0], b[1] for n-tile n0; b[2], b[3] for n-tile n0 + 8.
__device__ __forceinline__ void load_b_nk(uint32_t (&b)[4], const bf16_t* tile, int ld, int n0, int k0) {
  const int lane = threadIdx.x & 31;
  ldmatrix_x4(b, tile + (n0 + (lane & 7) + (lane >> 4) * 8) * ld + k0 + ((lane >> 3) & 1) * 8);
}

// Same from a tile stored [k][n] (e.g. V for P V), via the transposing ldmatrix.
__device__ __forceinline__ void load_b_kn(uint32_t (&b)[4], const bf16_t* tile, int ld, int n0, int k0) {
  const int lane = threadIdx.x & 31;
  ldmatrix_x4_trans(b, tile + (k0 + (lane & 7) + ((lane >> 3) & 1) * 8) * ld + n0 + (lane >> 4) * 8);
}

__device__ __forceinline__ uint32_t pack_bf16(float lo, float hi) {
  const __nv_bfloat162 v = __floats2bfloat162_rn(lo, hi);
  return *reinterpret_cast<const uint32_t*>(&v);
}

// A fragment over 16 columns from two adjacent C tiles (see the header comment).
__device__ __forceinline__ void c_to_a(uint32_t (&a)[4], const float (&left)[4], const float (&right)[4]) {
  a[0] = pack_bf16(left[0], left[1]);
  a[1] = pack_bf16(left[2], left[3]);
  a[2] = pack_bf16(right[0], right[1]);
  a[3] = pack_bf16(right[2], right[3]);
}

// Rows [r0, r0 + R) of one head of a [T, heads, D] tensor into tile [R][kD + kPad] (bf16);
// rows >= T and columns >= D become 0. src points at head h of row 0; row_stride = heads * D.
// Requires D % 8 == 0 and a 16-byte aligned src (checked on the host).
template <int R, int kD, class T>
__device__ __forceinline__ void load_tile(bf16_t* tile, const T* src, int64_t row_stride, int r0, int T_, int D) {
  constexpr int kChunks = kD / 8;
  constexpr int ld = kD + kPad;
  for (int idx = threadIdx.x; idx < R * kChunks; idx += blockDim.x) {
    const int r = idx / kChunks, c = (idx % kChunks) * 8;
    uint4 val = make_uint4(0, 0, 0, 0);
    if (r0 + r < T_ && c < D) {
      const T* p = src + int64_t(r0 + r) * row_stride + c;
      if constexpr (sizeof(T) == 2) {
        val = *reinterpret_cast<const uint4*>(p);
      } else {
        float f[8];
        load8(p, f);
        val = make_uint4(pack_bf16(f[0], f[1]), pack_bf16(f[2], f[3]), pack_bf16(f[4], f[5]), pack_bf16(f[6], f[7]));
      }
    }
    *reinterpret_cast<uint4*>(tile + r * ld + c) = val;
  }
}

// ---- asynchronous copies (sm_80+): global -> shared without staging through registers.
__device__ __forceinline__ void cp_async16(void* smem, const void* gmem, bool valid) {
  const uint32_t s = static_cast<uint32_t>(__cvta_generic_to_shared(smem));
  const int n = valid ? 16 : 0;  // 0 source bytes: the 16 destination bytes are zero-filled
  asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(s), "l"(gmem), "r"(n));
}
__device__ __forceinline__ void cp_async_commit() { asm volatile("cp.async.commit_group;\n" ::); }
__device__ __forceinline__ void cp_async_wait_all() { asm volatile("cp.async.wait_group 0;\n" ::); }

// load_tile for bf16 sources through cp.async (complete after cp_async_wait_all + barrier);
// f32 sources need a conversion and fall back to the synchronous load_tile.
template <int R, int kD, class T>
__device__ __forceinline__ void load_tile_async(bf16_t* tile, const T* src, int64_t row_stride, int r0, int T_,
                                                int D) {
  if constexpr (sizeof(T) != 2) {
    load_tile<R, kD>(tile, src, row_stride, r0, T_, D);
  } else {
    constexpr int kChunks = kD / 8;
    constexpr int ld = kD + kPad;
    for (int idx = threadIdx.x; idx < R * kChunks; idx += blockDim.x) {
      const int r = idx / kChunks, c = (idx % kChunks) * 8;
      const bool valid = r0 + r < T_ && c < D;
      cp_async16(tile + r * ld + c, valid ? src + int64_t(r0 + r) * row_stride + c : src, valid);
    }
  }
  cp_async_commit();
}

// Stores a pair of values (columns col, col+1) of one output row.
template <class T>
__device__ __forceinline__ void store_pair(T* p, float a, float b) {
  if constexpr (sizeof(T) == 2) {
    *reinterpret_cast<__nv_bfloat162*>(p) = __floats2bfloat162_rn(a, b);
  } else {
    *reinterpret_cast<float2*>(p) = make_float2(a, b);
  }
}

constexpr float kLog2e = 1.4426950408889634f;
constexpr float kLn2 = 0.6931471805599453f;

}  // namespace wm::cuda::attn
