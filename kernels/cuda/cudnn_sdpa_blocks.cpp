#include "kernels/cuda/cudnn_sdpa_blocks.h"

namespace wm::cuda::sdpa_blocks {

int64_t causal_mask(CudnnGraph& g, const SdpaDims& L, int64_t score, int64_t lowest) {
  const int64_t row = g.virt(L.score_dims(), kI32);
  g.pointwise(CUDNN_POINTWISE_GEN_INDEX, row, score, 0, 0, kI32, 2);
  const int64_t col = g.virt(L.score_dims(), kI32);
  g.pointwise(CUDNN_POINTWISE_GEN_INDEX, col, score, 0, 0, kI32, 3);
  const int64_t keep = g.virt(L.score_dims(), CUDNN_DATA_BOOLEAN);
  g.pointwise(CUDNN_POINTWISE_CMP_GE, keep, row, col, 0, CUDNN_DATA_BOOLEAN);
  const int64_t out = g.virt(L.score_dims(), kF32);
  g.pointwise(CUDNN_POINTWISE_BINARY_SELECT, out, score, lowest, keep);
  return out;
}

int64_t softmax_with_stats(CudnnGraph& g, const SdpaDims& L, int64_t score, int64_t stats) {
  const int64_t m = g.virt(L.row_dims(), kF32);
  g.reduction(CUDNN_REDUCE_TENSOR_MAX, m, score);
  const int64_t sub = g.virt(L.score_dims(), kF32);
  g.pointwise(CUDNN_POINTWISE_SUB, sub, score, m);
  const int64_t e = g.virt(L.score_dims(), kF32);
  g.pointwise(CUDNN_POINTWISE_EXP, e, sub);
  const int64_t z = g.virt(L.row_dims(), kF32);
  g.reduction(CUDNN_REDUCE_TENSOR_ADD, z, e);
  const int64_t logz = g.virt(L.row_dims(), kF32);
  g.pointwise(CUDNN_POINTWISE_LOG, logz, z);
  g.pointwise(CUDNN_POINTWISE_ADD, stats, m, logz);
  const int64_t p = g.virt(L.score_dims(), kBF16);
  g.pointwise(CUDNN_POINTWISE_DIV, p, e, z);
  return p;
}

void dout_o_rowsum(CudnnGraph& g, const SdpaDims& L, int64_t dout, int64_t o, int64_t softmax_sum) {
  const int64_t one = g.scalar(1.0f);
  const int64_t dodo = g.virt(L.q_dims(), kF32, {L.H * L.S * L.D, L.S * L.D, L.H * L.D, 1});
  g.pointwise(CUDNN_POINTWISE_MUL, dodo, dout, o);
  const int64_t rsum = g.virt(L.row_dims(), kF32);
  g.reduction(CUDNN_REDUCE_TENSOR_ADD, rsum, dodo);
  g.pointwise(CUDNN_POINTWISE_MUL, softmax_sum, rsum, one);
}

int64_t score_grad(CudnnGraph& g, const SdpaDims& L, int64_t dout, int64_t vT, int64_t softmax_sum, int64_t p,
                   int64_t scale, MatmulOverrides ov) {
  const int64_t dp = g.virt(L.score_dims(), kF32);
  g.matmul(dout, vT, dp, ov);
  const int64_t t1 = g.virt(L.score_dims(), kF32);
  g.pointwise(CUDNN_POINTWISE_SUB, t1, dp, softmax_sum);
  const int64_t t2 = g.virt(L.score_dims(), kF32);
  g.pointwise(CUDNN_POINTWISE_MUL, t2, t1, p);
  const int64_t ds = g.virt(L.score_dims(), kF32);
  g.pointwise(CUDNN_POINTWISE_MUL, ds, t2, scale);
  return ds;
}

void kv_head_grad(CudnnGraph& g, const SdpaDims& L, int64_t x, int64_t other, int64_t out, MatmulOverrides ov) {
  const int64_t xt = g.virt({L.B, L.H, L.S, L.S}, kBF16, {L.H * L.S * L.S, L.S * L.S, 1, L.S});
  g.reshape(xt, x);
  if (L.H == L.G) {
    g.matmul(xt, other, out, ov);
    return;
  }
  const int64_t full = g.virt({L.B, L.H, L.S, L.D}, kBF16);
  g.matmul(xt, other, full, ov);
  g.reduction(CUDNN_REDUCE_TENSOR_ADD, out, full);
}

}  // namespace wm::cuda::sdpa_blocks
