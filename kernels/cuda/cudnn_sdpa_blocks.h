// Pieces shared by the cuDNN SDPA graphs (cudnn_sdpa.cpp: one document per row;
// cudnn_sdpa_docs.cpp: packed documents as ragged rows): the [B, H, S, D] views of our BSHD
// tensors and the sub-graphs both build the same way (frontend CompositeSDPANode /
// CompositeSDPABackwardNode order), so the engines recognise them.
#pragma once
#include <cudnn_graph.h>

#include <cstddef>
#include <cstdint>

#include "kernels/cuda/cudnn_graph.h"

namespace wm::cuda::sdpa_blocks {

inline constexpr cudnnDataType_t kBF16 = CUDNN_DATA_BFLOAT16;
inline constexpr cudnnDataType_t kF32 = CUDNN_DATA_FLOAT;
inline constexpr cudnnDataType_t kI32 = CUDNN_DATA_INT32;

// Workspace carving: n bytes rounded up to 256.
inline size_t align256(size_t n) { return (n + 255) / 256 * 256; }

// B rows (or documents) of S tokens, H query heads, G kv heads, head dim D, T = B * S.
struct SdpaDims {
  int64_t B, S, H, G, D, T;
  Dims q_dims() const { return {B, H, S, D}; }
  Dims q_strides() const { return {S * H * D, D, H * D, 1}; }
  Dims kv_dims() const { return {B, G, S, D}; }
  Dims kv_strides() const { return {S * G * D, D, G * D, 1}; }
  Dims kvT_dims() const { return {B, G, D, S}; }  // K^T / V^T: strides of K with the last two swapped
  Dims kvT_strides() const { return {S * G * D, D, 1, G * D}; }
  Dims score_dims() const { return {B, H, S, S}; }
  Dims row_dims() const { return {B, H, S, 1}; }
};

// frontend causal_mask (top-left): keep score where row >= col, else `lowest`.
int64_t causal_mask(CudnnGraph& g, const SdpaDims& L, int64_t score, int64_t lowest);

// Row softmax with its statistics: M = max_j S; E = exp(S - M); Z = sum_j E; stats = M + log Z;
// returns P = E / Z in bf16 (the second matmul takes P in the i/o type).
int64_t softmax_with_stats(CudnnGraph& g, const SdpaDims& L, int64_t score, int64_t stats);

// softmax_sum = rowsum(dO * O) * 1 (the frontend's form).
void dout_o_rowsum(CudnnGraph& g, const SdpaDims& L, int64_t dout, int64_t o, int64_t softmax_sum);

// dS = (dO VT - softmax_sum) * P * scale.
int64_t score_grad(CudnnGraph& g, const SdpaDims& L, int64_t dout, int64_t vT, int64_t softmax_sum, int64_t p,
                   int64_t scale, MatmulOverrides ov = {});

// out [B, G, S, D] = X^T @ other, X [B, H, S, S] fp32 seen transposed (a reshape with swapped
// strides, bf16), summed over the H / G query heads of each kv head: dV (X = P, other = dO) and
// dK (X = dS, other = Q).
void kv_head_grad(CudnnGraph& g, const SdpaDims& L, int64_t x, int64_t other, int64_t out, MatmulOverrides ov = {});

}  // namespace wm::cuda::sdpa_blocks
