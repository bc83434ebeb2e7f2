// The optimizer driver: fp32 master weights, AdamW moments m and v, each one flat buffer laid out
// like the parameter/gradient buffers (same offsets). A step runs ops::adamw_update over runs of
// parameters that share a weight-decay group, then refreshes the compute-dtype weights.
#pragma once
#include <cstdint>
#include <vector>

#include "kernels/buffer.h"
#include "model/param_store.h"

namespace wm {

struct OptimizerOptions {
  double beta1 = 0.9;
  double beta2 = 0.999;
  double eps = 1e-8;
  double weight_decay = 0.0;
  bool no_decay_norms_and_embeddings = true;
};

// A contiguous range [offset, offset + numel) of the flat buffers and its decay group.
struct ParamSegment {
  int64_t offset = 0;
  int64_t numel = 0;
  bool decay = true;
};

// Runs of neighbouring parameters with the same decay group (alignment gaps included; they stay 0).
std::vector<ParamSegment> decay_segments(const ParamStore& store, bool no_decay_norms_and_embeddings);

// Global L2 norm of a gradient buffer (fp64 accumulation on the CPU); NaN/Inf when any entry is.
double global_grad_norm(const Tensor& grads);
// Scale that brings the norm down to max_norm (1 when max_norm <= 0 or the norm is already below).
float clip_scale(double grad_norm, double max_norm);

class AdamW {
 public:
  // params: flat compute-dtype weights (read once for the master copy, written after each step);
  // grads: flat gradient buffer. Both 1-D with the same numel, on the same device.
  AdamW(Tensor params, Tensor grads, std::vector<ParamSegment> segments, OptimizerOptions options);

  // One update with learning rate `lr`; gradients are multiplied by grad_scale (clipping) first.
  void step(double lr, float grad_scale);
  // master -> compute-dtype weights.
  void refresh_params();

  int64_t steps_taken() const { return steps_; }
  void set_steps_taken(int64_t n) { steps_ = n; }
  const Tensor& master() const { return master_.t(); }
  const Tensor& m() const { return m_.t(); }
  const Tensor& v() const { return v_.t(); }
  const std::vector<ParamSegment>& segments() const { return segments_; }

 private:
  Tensor params_, grads_;
  std::vector<ParamSegment> segments_;
  OptimizerOptions options_;
  OwnedTensor master_, m_, v_;
  int64_t steps_ = 0;
};

}  // namespace wm
