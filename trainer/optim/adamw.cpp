#include "trainer/optim/adamw.h"

#include <cmath>
#include <stdexcept>

#include "kernels/ops.h"

namespace wm {

std::vector<ParamSegment> decay_segments(const ParamStore& store, bool no_decay_norms_and_embeddings) {
  std::vector<ParamSegment> out;
  const auto& specs = store.specs();
  for (size_t i = 0; i < specs.size(); ++i) {
    const bool exempt = specs[i].kind == ParamKind::Norm || specs[i].kind == ParamKind::Embedding;
    const bool decay = !(no_decay_norms_and_embeddings && exempt);
    const int64_t begin = store.offset(i);
    // A run extends to the next parameter's offset (covering the alignment gap) or the end.
    const int64_t end = i + 1 < specs.size() ? store.offset(i + 1) : store.padded_numel();
    if (!out.empty() && out.back().decay == decay && out.back().offset + out.back().numel == begin)
      out.back().numel += end - begin;
    else
      out.push_back({begin, end - begin, decay});
  }
  return out;
}

double global_grad_norm(const Tensor& grads) { return std::sqrt(ops::sum_squares(grads)); }

float clip_scale(double grad_norm, double max_norm) {
  if (max_norm <= 0 || !(grad_norm > max_norm)) return 1.0f;
  return static_cast<float>(max_norm / (grad_norm + 1e-6));
}

namespace {
Tensor range(const Tensor& flat, const ParamSegment& s) { return flat.slice(s.offset, s.offset + s.numel); }
}  // namespace

AdamW::AdamW(Tensor params, Tensor grads, std::vector<ParamSegment> segments, OptimizerOptions options)
    : params_(params), grads_(grads), segments_(std::move(segments)), options_(options),
      master_({params.numel()}, DType::F32, params.device),
      m_({params.numel()}, DType::F32, params.device),
      v_({params.numel()}, DType::F32, params.device) {
  if (params.ndim != 1 || grads.ndim != 1 || params.numel() != grads.numel() || params.device != grads.device)
    throw std::invalid_argument("AdamW: params " + params.describe() + " and grads " + grads.describe() +
                                " must be 1-D buffers of the same size on one device");
  for (const auto& s : segments_)
    if (s.offset < 0 || s.numel < 0 || s.offset + s.numel > params.numel())
      throw std::invalid_argument("AdamW: a parameter segment lies outside the flat buffer");
  ops::convert(master_.t(), params_);
  ops::zero(m_.t());
  ops::zero(v_.t());
}

void AdamW::step(double lr, float grad_scale) {
  ++steps_;
  AdamWParams hp;
  hp.lr = static_cast<float>(lr);
  hp.beta1 = static_cast<float>(options_.beta1);
  hp.beta2 = static_cast<float>(options_.beta2);
  hp.eps = static_cast<float>(options_.eps);
  hp.step = steps_;
  for (const auto& s : segments_) {
    if (s.numel == 0) continue;
    hp.weight_decay = s.decay ? static_cast<float>(options_.weight_decay) : 0.0f;
    // The compute copy of the updated weights is written in the same pass (no refresh pass).
    ops::adamw_update(range(master_.t(), s), range(grads_, s), range(m_.t(), s), range(v_.t(), s), hp,
                      grad_scale, range(params_, s));
  }
}

void AdamW::refresh_params() {
  if (params_.dtype == DType::F32) ops::copy(params_, master_.t());
  else ops::convert(params_, master_.t());
}

}  // namespace wm
