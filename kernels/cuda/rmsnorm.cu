// RMSNorm (Qwen3): rstd = 1/sqrt(mean(x^2) + eps) in fp32; y = w * cast_x(x * rstd).
// One warp per row (rows of a hidden state or of one head for q/k norm). Backward:
//   n = x * rstd, g = dy * w,  dx = rstd * (g - n * mean(g * n)),  dw += sum_rows dy * cast_x(n)
// where dw is reduced over rows in fp32 (16-byte loads of 8 columns per thread, or column blocks
// x row splits for odd shapes; atomics into an fp32 workspace) and then added once into dw.
// With accumulate_dx the result is added to dx (the residual stream's gradient) instead of
// overwriting it. Rows of d % 8 == 0 (d / 8 threads per row: a power of two up to 32 or a multiple
// of 32 up to 1024) take one fused kernel that reads x and dy once for dx and dw together.
// q/k norm + RoPE (rmsnorm_rope_*): rows are (t, h) of [T, H, D]; a table of cos/sin [T, D/2] is
// built first (one pass, as rope.cu computes them), then the forward rotates the normed row in
// registers (the partner column i +- D/2 is D/16 lanes away: a shuffle) and the backward unrotates
// dy the same way before the fused backward above. Each step rounds to x's dtype where the
// separate ops store, so the results equal rmsnorm then RoPE.
#include "kernels/cuda/cuda_backend.h"
#include "kernels/cuda/cuda_common.cuh"
#include "kernels/cuda/rope_freq.cuh"

namespace wm::cuda {
namespace {

constexpr int kWarpsPerBlock = 4;

template <class X, class W>
__global__ void rmsnorm_forward_kernel(X* y, float* rstd_out, const X* x, const W* w, int64_t N, int d, float eps,
                                       bool vec) {
  const int64_t row = blockIdx.x * int64_t(kWarpsPerBlock) + threadIdx.x / 32;
  const int lane = threadIdx.x & 31;
  if (row >= N) return;
  const X* xr = x + row * d;
  X* yr = y + row * d;
  float ss = 0.0f;
  if (vec) {
    for (int c = lane * 8; c < d; c += 256) {
      float v[8];
      load8(xr + c, v);
#pragma unroll
      for (int i = 0; i < 8; ++i) ss = fmaf(v[i], v[i], ss);
    }
  } else {
    for (int c = lane; c < d; c += 32) { const float v = to_f(xr[c]); ss = fmaf(v, v, ss); }
  }
  ss = warp_sum(ss);
  const float rstd = 1.0f / sqrtf(ss / float(d) + eps);
  if (lane == 0) rstd_out[row] = rstd;
  if (vec) {
    for (int c = lane * 8; c < d; c += 256) {
      float v[8], wv[8];
      load8(xr + c, v);
      load8(w + c, wv);
#pragma unroll
      for (int i = 0; i < 8; ++i) v[i] = wv[i] * to_f(from_f<X>(v[i] * rstd));
      store8(yr + c, v);
    }
  } else {
    for (int c = lane; c < d; c += 32) yr[c] = from_f<X>(to_f(w[c]) * to_f(from_f<X>(to_f(xr[c]) * rstd)));
  }
}

// table[t * half + i] = (cos, sin) of pos[t] * inv_freq[i].
__global__ void rope_table_kernel(float2* table, const int* pos, InvFreq inv, int64_t T, int half) {
  const int64_t idx = blockIdx.x * int64_t(blockDim.x) + threadIdx.x;
  if (idx < T * half) table[idx] = rope_cos_sin(pos[idx / half], inv.v[idx % half]);
}

// Rotate-half on registers: v holds columns [c, c + 8) of a row of length 2 * half, p the
// partner columns (c +- half). sign -1 applies the inverse rotation.
__device__ __forceinline__ void rotate8(float (&v)[8], const float (&p)[8], const float2* cs_row, int c, int half,
                                        float sign) {
  const bool first = c < half;
  const int i0 = first ? c : c - half;
#pragma unroll
  for (int i = 0; i < 8; ++i) {
    const float2 cs = cs_row[i0 + i];
    const float s = sign * cs.y;
    v[i] = first ? v[i] * cs.x - p[i] * s : v[i] * cs.x + p[i] * s;
  }
}

// One warp per (t, h) row of length d <= 256 (d / 8 a power of two): lane owns 8 columns.
template <class X, class W>
__global__ void rmsnorm_rope_forward_kernel(X* y, float* rstd_out, const X* x, const W* w, const float2* table,
                                            int64_t N, int H, int d, float eps) {
  const int64_t row = blockIdx.x * int64_t(kWarpsPerBlock) + threadIdx.x / 32;
  const int lane = threadIdx.x & 31, c = lane * 8;
  if (row >= N) return;  // whole warps
  const bool active = c < d;
  float v[8] = {0, 0, 0, 0, 0, 0, 0, 0}, wv[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  if (active) {
    load8(x + row * d + c, v);
    load8(w + c, wv);
  }
  float ss = 0.0f;
#pragma unroll
  for (int i = 0; i < 8; ++i) ss = fmaf(v[i], v[i], ss);
  ss = warp_sum(ss);
  const float rstd = 1.0f / sqrtf(ss / float(d) + eps);
  if (lane == 0) rstd_out[row] = rstd;
#pragma unroll
  for (int i = 0; i < 8; ++i) v[i] = to_f(from_f<X>(wv[i] * to_f(from_f<X>(v[i] * rstd))));  // y as stored
  const int half = d / 2;
  float p[8];
#pragma unroll
  for (int i = 0; i < 8; ++i) p[i] = __shfl_xor_sync(0xffffffffu, v[i], half / 8);
  if (active) {
    rotate8(v, p, table + (row / H) * half, c, half, 1.0f);
    store8(y + row * d + c, v);
  }
}

template <class X, class W>
__global__ void rmsnorm_backward_dx_kernel(X* dx, const X* dy, const X* x, const W* w, const float* rstd_in,
                                           int64_t N, int d, bool vec, bool accumulate) {
  const int64_t row = blockIdx.x * int64_t(kWarpsPerBlock) + threadIdx.x / 32;
  const int lane = threadIdx.x & 31;
  if (row >= N) return;
  const X* xr = x + row * d;
  const X* dyr = dy + row * d;
  X* dxr = dx + row * d;
  const float rstd = rstd_in[row];
  float dot = 0.0f;  // sum_c g_c * n_c
  if (vec) {
    for (int c = lane * 8; c < d; c += 256) {
      float xv[8], gv[8], wv[8];
      load8(xr + c, xv); load8(dyr + c, gv); load8(w + c, wv);
#pragma unroll
      for (int i = 0; i < 8; ++i) dot = fmaf(gv[i] * wv[i], xv[i] * rstd, dot);
    }
  } else {
    for (int c = lane; c < d; c += 32) dot = fmaf(to_f(dyr[c]) * to_f(w[c]), to_f(xr[c]) * rstd, dot);
  }
  const float mean_gn = warp_sum(dot) / float(d);
  if (vec) {
    for (int c = lane * 8; c < d; c += 256) {
      float xv[8], gv[8], wv[8];
      load8(xr + c, xv); load8(dyr + c, gv); load8(w + c, wv);
#pragma unroll
      for (int i = 0; i < 8; ++i) xv[i] = rstd * (gv[i] * wv[i] - xv[i] * rstd * mean_gn);
      if (accumulate) {
        float old[8];
        load8(dxr + c, old);
#pragma unroll
        for (int i = 0; i < 8; ++i) xv[i] += old[i];
      }
      store8(dxr + c, xv);
    }
  } else {
    for (int c = lane; c < d; c += 32) {
      const float n = to_f(xr[c]) * rstd;
      const float v = rstd * (to_f(dyr[c]) * to_f(w[c]) - n * mean_gn);
      dxr[c] = from_f<X>(accumulate ? to_f(dxr[c]) + v : v);
    }
  }
}

// dw_acc[c] += sum over this block's rows of dy[r, c] * cast_x(x[r, c] * rstd[r]).
// Block (32, 8): 32 columns x 8 row lanes; grid (column blocks, row splits).
template <class X>
__global__ void rmsnorm_backward_dw_kernel(float* dw_acc, const X* dy, const X* x, const float* rstd, int64_t N,
                                           int d) {
  __shared__ float part[8][33];
  const int c = blockIdx.x * 32 + threadIdx.x;
  float acc = 0.0f;
  if (c < d) {
    for (int64_t r = int64_t(blockIdx.y) * 8 + threadIdx.y; r < N; r += int64_t(gridDim.y) * 8)
      acc = fmaf(to_f(dy[r * d + c]), to_f(from_f<X>(to_f(x[r * d + c]) * rstd[r])), acc);
  }
  part[threadIdx.y][threadIdx.x] = acc;
  __syncthreads();
  if (threadIdx.y == 0 && c < d) {
    float s = 0.0f;
#pragma unroll
    for (int i = 0; i < 8; ++i) s += part[i][threadIdx.x];
    atomicAdd(dw_acc + c, s);
  }
}

// Same with 16-byte loads (d % 8 == 0, d <= kDwVecMaxD, aligned rows): a thread owns 8 adjacent
// columns, a block of 256 threads covers 256 / (d / 8) rows per pass and strides over the rows;
// the row lanes are summed in shared memory, then one atomicAdd per column and block.
constexpr int kDwVecThreads = 256, kDwVecMaxD = kDwVecThreads * 8;
template <class X>
__global__ void __launch_bounds__(kDwVecThreads) rmsnorm_backward_dw_vec_kernel(float* dw_acc, const X* dy, const X* x,
                                                                               const float* rstd, int64_t N, int d) {
  __shared__ float part[kDwVecMaxD];  // [row lane][d]
  const int per_row = d / 8, lanes = kDwVecThreads / per_row;
  const int lane_row = threadIdx.x / per_row, c = (threadIdx.x % per_row) * 8;
  if (lane_row < lanes) {
    float acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    for (int64_t r = int64_t(blockIdx.x) * lanes + lane_row; r < N; r += int64_t(gridDim.x) * lanes) {
      float xv[8], gv[8];
      load8(x + r * d + c, xv);
      load8(dy + r * d + c, gv);
      const float rs = rstd[r];
#pragma unroll
      for (int i = 0; i < 8; ++i) acc[i] = fmaf(gv[i], to_f(from_f<X>(xv[i] * rs)), acc[i]);
    }
#pragma unroll
    for (int i = 0; i < 8; ++i) part[lane_row * d + c + i] = acc[i];
  }
  __syncthreads();
  for (int col = threadIdx.x; col < d; col += kDwVecThreads) {
    float sum = 0.0f;
    for (int j = 0; j < lanes; ++j) sum += part[j * d + col];
    atomicAdd(dw_acc + col, sum);
  }
}

// Fused dx and dw (vectorised rows): a row is `per_row` = d / 8 threads of 8 adjacent columns,
// a block holds `lanes` rows side by side and strides over the rows (the trip count is the same
// for every thread, so the block can synchronise inside the loop). The row's sum of g * n is
// reduced by shuffles (per_row <= 32) or by the row's warps through shared memory (double
// buffered: one barrier per row). dw partials stay in registers; at the end the lanes are summed
// in shared memory and added to dw_acc with one atomicAdd per column and block.
constexpr int kFusedMaxThreads = 1024;
template <class X, class W>
__global__ void __launch_bounds__(kFusedMaxThreads) rmsnorm_backward_fused_kernel(
    X* dx, float* dw_acc, const X* dy, const X* x, const W* w, const float* rstd, int64_t N, int d, int per_row,
    int lanes, bool accumulate, const float2* rope_table, int rope_heads) {
  extern __shared__ float smem[];  // max(lanes * d, 2 * lanes * warps_per_row) floats
  const int lane_row = threadIdx.x / per_row, col = (threadIdx.x % per_row) * 8;
  const int warps_per_row = per_row / 32;  // 0 when a row fits in (part of) one warp
  float wv[8], acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  load8(w + col, wv);
  const int64_t stride = int64_t(gridDim.x) * lanes;
  int buf = 0;
  for (int64_t base = int64_t(blockIdx.x) * lanes; base < N; base += stride, buf ^= 1) {
    const int64_t r = base + lane_row;
    const bool valid = r < N;
    float xv[8] = {0, 0, 0, 0, 0, 0, 0, 0}, gv[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    float rs = 0.0f;
    if (valid) {
      load8(x + r * d + col, xv);
      load8(dy + r * d + col, gv);
      rs = rstd[r];
    }
    if (rope_table) {  // dy is the gradient of the rotated row: unrotate it (per_row <= 32 here)
      float p[8];
#pragma unroll
      for (int i = 0; i < 8; ++i) p[i] = __shfl_xor_sync(0xffffffffu, gv[i], per_row / 2);
      if (valid) {
        rotate8(gv, p, rope_table + (r / rope_heads) * (d / 2), col, d / 2, -1.0f);
#pragma unroll
        for (int i = 0; i < 8; ++i) gv[i] = to_f(from_f<X>(gv[i]));  // as rope_backward stores it
      }
    }
    float dot = 0.0f;  // sum_c g_c * n_c over this thread's columns
#pragma unroll
    for (int i = 0; i < 8; ++i) {
      xv[i] *= rs;        // n
      dot = fmaf(gv[i] * wv[i], xv[i], dot);
    }
    if (warps_per_row == 0) {
      for (int o = per_row / 2; o > 0; o >>= 1) dot += __shfl_xor_sync(0xffffffffu, dot, o);
    } else {
      dot = warp_sum(dot);
      float* red = smem + buf * lanes * warps_per_row;
      const int warp_in_row = (threadIdx.x % per_row) / 32;
      if ((threadIdx.x & 31) == 0) red[lane_row * warps_per_row + warp_in_row] = dot;
      __syncthreads();
      dot = 0.0f;
      for (int j = 0; j < warps_per_row; ++j) dot += red[lane_row * warps_per_row + j];
    }
    if (valid) {
      const float mean_gn = dot / float(d);
      float out[8];
#pragma unroll
      for (int i = 0; i < 8; ++i) {
        out[i] = rs * (gv[i] * wv[i] - xv[i] * mean_gn);
        acc[i] = fmaf(gv[i], to_f(from_f<X>(xv[i])), acc[i]);
      }
      X* dxr = dx + r * d + col;
      if (accumulate) {
        float old[8];
        load8(dxr, old);
#pragma unroll
        for (int i = 0; i < 8; ++i) out[i] += old[i];
      }
      store8(dxr, out);
    }
  }
  __syncthreads();  // the reduction buffers are reused for the dw partials
#pragma unroll
  for (int i = 0; i < 8; ++i) smem[lane_row * d + col + i] = acc[i];
  __syncthreads();
  for (int c = threadIdx.x; c < d; c += blockDim.x) {
    float sum = 0.0f;
    for (int j = 0; j < lanes; ++j) sum += smem[j * d + c];
    atomicAdd(dw_acc + c, sum);
  }
}

template <class W>
__global__ void accumulate_kernel(W* dst, const float* src, int n) {
  const int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i < n) dst[i] = from_f<W>(to_f(dst[i]) + src[i]);
}

bool fused_backward_fits(int64_t d) {
  const int64_t per_row = d / 8;
  return d % 8 == 0 && per_row >= 1 && per_row <= kFusedMaxThreads &&
         (per_row <= 32 ? (per_row & (per_row - 1)) == 0 : per_row % 32 == 0);
}

// The fused backward over x, dy [N, d] (vectorised, fused_backward_fits(d)); dw_acc: d zeroed
// floats. rope_table: unrotate dy first (rows are (t, h), rope_heads = H), or nullptr.
void fused_backward(const char* op, Tensor dx, Tensor dw, const Tensor& dy, const Tensor& x, const Tensor& w,
                    const Tensor& rstd, float* dw_acc, bool accumulate_dx, const float2* rope_table, int rope_heads) {
  auto& ctx = CudaContext::get();
  const int64_t N = x.size(0), d = x.size(1);
  const int per_row = int(d / 8), lanes = std::max(1, 256 / per_row), threads = per_row * lanes;
  const size_t smem = sizeof(float) * std::max<size_t>(size_t(lanes) * d, 2 * size_t(lanes) * (per_row / 32));
  const auto blocks = unsigned(std::min<int64_t>((N + lanes - 1) / lanes, 4 * ctx.sm_count() * 256 / threads));
  dispatch_float(op, x, [&]<class X>() {
    dispatch_float(op, w, [&]<class W>() {
      rmsnorm_backward_fused_kernel<X, W><<<blocks, threads, smem, ctx.stream()>>>(
          static_cast<X*>(dx.data), dw_acc, static_cast<const X*>(dy.data), static_cast<const X*>(x.data),
          static_cast<const W*>(w.data), static_cast<const float*>(rstd.data), N, int(d), per_row, lanes,
          accumulate_dx, rope_table, rope_heads);
    });
  });
  CUDA_CHECK_LAUNCH("rmsnorm_backward_fused_kernel");
  dispatch_float(op, dw, [&]<class W>() {
    accumulate_kernel<<<grid_for(d, 256), 256, 0, ctx.stream()>>>(static_cast<W*>(dw.data), dw_acc, int(d));
  });
  CUDA_CHECK_LAUNCH("accumulate_kernel");
}

// The cos/sin table [T, D/2] for pos, in `table` (T * D/2 float2).
void build_rope_table(float2* table, const Tensor& pos, float theta, int64_t T, int64_t D) {
  const int64_t n = T * (D / 2);
  rope_table_kernel<<<grid_for(n, 256, INT32_MAX), 256, 0, stream()>>>(table, pos.ptr<const int32_t>(),
                                                                      rope_inv_freq(theta, D), T, int(D / 2));
  CUDA_CHECK_LAUNCH("rope_table_kernel");
}

// The checks shared by rmsnorm_rope_*: x [T, H, D] float, w [D], rstd F32 [T*H], pos I32 [T].
void check_rope_rows(const char* op, const Tensor& x, const Tensor& w, const Tensor& rstd, const Tensor& pos) {
  check_float(op, "x", x);
  check_rank(op, "x", x, 3);
  check_float(op, "w", w);
  check_shape(op, "w", w, {x.size(2)});
  check_dtype(op, "rstd", rstd, DType::F32);
  check_numel(op, "rstd", rstd, x.size(0) * x.size(1));
  check_dtype(op, "pos", pos, DType::I32);
  check_numel(op, "pos", pos, x.size(0));
}

// q/k rows take the fused RoPE kernels when a row is d / 8 = a power of two <= 32 lanes.
bool rope_fused_fits(const Tensor& x) {
  const int64_t D = x.size(2);
  return D % 16 == 0 && D <= 256 && ((D / 8) & (D / 8 - 1)) == 0;
}

}  // namespace

void CudaBackend::rmsnorm_forward(Tensor y, Tensor rstd, const Tensor& x, const Tensor& w, float eps) {
  const char* op = "rmsnorm_forward";
  check_float(op, "x", x);
  check_rank(op, "x", x, 2);
  check_dtype(op, "y", y, x.dtype);
  check_float(op, "w", w);
  const int64_t N = x.size(0), d = x.size(1);
  check_shape(op, "y", y, {N, d});
  check_shape(op, "w", w, {d});
  check_dtype(op, "rstd", rstd, DType::F32);
  check_numel(op, "rstd", rstd, N);
  if (N == 0) return;
  if (d == 0 || d > INT32_MAX) fail(op, "bad row length in " + x.describe());
  const bool vec = d % 8 == 0 && aligned16(x.data) && aligned16(y.data) && aligned16(w.data);
  const unsigned grid = unsigned((N + kWarpsPerBlock - 1) / kWarpsPerBlock);
  dispatch_float(op, x, [&]<class X>() {
    dispatch_float(op, w, [&]<class W>() {
      rmsnorm_forward_kernel<<<grid, kWarpsPerBlock * 32, 0, stream()>>>(
          static_cast<X*>(y.data), static_cast<float*>(rstd.data), static_cast<const X*>(x.data),
          static_cast<const W*>(w.data), N, int(d), eps, vec);
    });
  });
  CUDA_CHECK_LAUNCH("rmsnorm_forward_kernel");
}

void CudaBackend::rmsnorm_backward(Tensor dx, Tensor dw, const Tensor& dy, const Tensor& x, const Tensor& w,
                                   const Tensor& rstd, bool accumulate_dx) {
  const char* op = "rmsnorm_backward";
  check_float(op, "x", x);
  check_rank(op, "x", x, 2);
  const int64_t N = x.size(0), d = x.size(1);
  check_dtype(op, "dx", dx, x.dtype);
  check_shape(op, "dx", dx, {N, d});
  check_dtype(op, "dy", dy, x.dtype);
  check_shape(op, "dy", dy, {N, d});
  check_float(op, "w", w);
  check_shape(op, "w", w, {d});
  check_float(op, "dw", dw);
  check_shape(op, "dw", dw, {d});
  check_dtype(op, "rstd", rstd, DType::F32);
  check_numel(op, "rstd", rstd, N);
  if (N == 0) return;
  if (d == 0 || d > INT32_MAX) fail(op, "bad row length in " + x.describe());
  auto& ctx = CudaContext::get();
  const bool vec = d % 8 == 0 && aligned16(x.data) && aligned16(dx.data) && aligned16(dy.data) && aligned16(w.data);
  float* dw_acc = static_cast<float*>(ctx.workspace(size_t(d) * sizeof(float)));
  CUDA_CHECK(cudaMemsetAsync(dw_acc, 0, size_t(d) * sizeof(float), ctx.stream()));
  const bool fused_shape = fused_backward_fits(d);
  if (vec && fused_shape) {
    fused_backward(op, dx, dw, dy, x, w, rstd, dw_acc, accumulate_dx, nullptr, 1);
    return;
  }
  const int col_blocks = int((d + 31) / 32);
  const int row_splits = int(std::min<int64_t>((N + 7) / 8, std::max<int64_t>(1, 4 * ctx.sm_count() / col_blocks + 1)));
  dispatch_float(op, x, [&]<class X>() {
    dispatch_float(op, w, [&]<class W>() {
      rmsnorm_backward_dx_kernel<<<unsigned((N + kWarpsPerBlock - 1) / kWarpsPerBlock), kWarpsPerBlock * 32, 0,
                                   ctx.stream()>>>(static_cast<X*>(dx.data), static_cast<const X*>(dy.data),
                                                   static_cast<const X*>(x.data), static_cast<const W*>(w.data),
                                                   static_cast<const float*>(rstd.data), N, int(d), vec,
                                                   accumulate_dx);
    });
    CUDA_CHECK_LAUNCH("rmsnorm_backward_dx_kernel");
    if (vec && d <= kDwVecMaxD) {
      const int64_t lanes = kDwVecThreads / (d / 8);
      const auto blocks = unsigned(std::min<int64_t>((N + lanes - 1) / lanes, 4 * ctx.sm_count()));
      rmsnorm_backward_dw_vec_kernel<<<blocks, kDwVecThreads, 0, ctx.stream()>>>(
          dw_acc, static_cast<const X*>(dy.data), static_cast<const X*>(x.data), static_cast<const float*>(rstd.data),
          N, int(d));
      CUDA_CHECK_LAUNCH("rmsnorm_backward_dw_vec_kernel");
    } else {
      rmsnorm_backward_dw_kernel<<<dim3(col_blocks, row_splits), dim3(32, 8), 0, ctx.stream()>>>(
          dw_acc, static_cast<const X*>(dy.data), static_cast<const X*>(x.data), static_cast<const float*>(rstd.data),
          N, int(d));
      CUDA_CHECK_LAUNCH("rmsnorm_backward_dw_kernel");
    }
  });
  dispatch_float(op, dw, [&]<class W>() {
    accumulate_kernel<<<grid_for(d, 256), 256, 0, ctx.stream()>>>(static_cast<W*>(dw.data), dw_acc, int(d));
  });
  CUDA_CHECK_LAUNCH("accumulate_kernel");
}


void CudaBackend::rmsnorm_rope_forward(Tensor y, Tensor rstd, const Tensor& x, const Tensor& w, float eps,
                                       const Tensor& pos, float theta) {
  const char* op = "rmsnorm_rope_forward";
  check_rope_rows(op, x, w, rstd, pos);
  const int64_t T = x.size(0), H = x.size(1), D = x.size(2), N = T * H;
  check_dtype(op, "y", y, x.dtype);
  check_shape(op, "y", y, {T, H, D});
  const bool vec = aligned16(x.data) && aligned16(y.data) && aligned16(w.data);
  if (!vec || !rope_fused_fits(x)) return Backend::rmsnorm_rope_forward(y, rstd, x, w, eps, pos, theta);
  if (N == 0) return;
  auto* table = static_cast<float2*>(CudaContext::get().workspace(size_t(T) * size_t(D / 2) * sizeof(float2)));
  build_rope_table(table, pos, theta, T, D);
  dispatch_float(op, x, [&]<class X>() {
    dispatch_float(op, w, [&]<class W>() {
      rmsnorm_rope_forward_kernel<<<unsigned((N + kWarpsPerBlock - 1) / kWarpsPerBlock), kWarpsPerBlock * 32, 0,
                                    stream()>>>(static_cast<X*>(y.data), static_cast<float*>(rstd.data),
                                                static_cast<const X*>(x.data), static_cast<const W*>(w.data), table, N,
                                                int(H), int(D), eps);
    });
  });
  CUDA_CHECK_LAUNCH("rmsnorm_rope_forward_kernel");
}

void CudaBackend::rmsnorm_rope_backward(Tensor dx, Tensor dw, Tensor dy, const Tensor& x, const Tensor& w,
                                        const Tensor& rstd, const Tensor& pos, float theta) {
  const char* op = "rmsnorm_rope_backward";
  check_rope_rows(op, x, w, rstd, pos);
  const int64_t T = x.size(0), H = x.size(1), D = x.size(2), N = T * H;
  check_dtype(op, "dx", dx, x.dtype);
  check_shape(op, "dx", dx, {T, H, D});
  check_dtype(op, "dy", dy, x.dtype);
  check_shape(op, "dy", dy, {T, H, D});
  check_float(op, "dw", dw);
  check_shape(op, "dw", dw, {D});
  const bool vec = aligned16(x.data) && aligned16(dx.data) && aligned16(dy.data) && aligned16(w.data);
  if (!vec || !rope_fused_fits(x)) return Backend::rmsnorm_rope_backward(dx, dw, dy, x, w, rstd, pos, theta);
  if (N == 0) return;
  auto& ctx = CudaContext::get();
  // workspace: dw_acc (D floats, padded to 256 bytes), then the cos/sin table
  const size_t table_offset = (size_t(D) * sizeof(float) + 255) / 256 * 256;
  char* ws = static_cast<char*>(ctx.workspace(table_offset + size_t(T) * size_t(D / 2) * sizeof(float2)));
  auto* dw_acc = reinterpret_cast<float*>(ws);
  auto* table = reinterpret_cast<float2*>(ws + table_offset);
  CUDA_CHECK(cudaMemsetAsync(dw_acc, 0, size_t(D) * sizeof(float), ctx.stream()));
  build_rope_table(table, pos, theta, T, D);
  fused_backward(op, dx.view({N, D}), dw, dy.view({N, D}), x.view({N, D}), w, rstd, dw_acc, false, table, int(H));
}

}  // namespace wm::cuda
