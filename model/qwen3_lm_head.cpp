// Qwen3Model lm_head + cross-entropy, in chunks of tokens: for each chunk
//   logits = h W^T; CE forward; [backward: dlogits in place, dh = dlogits W, dW += dlogits^T h].
#include <algorithm>

#include "kernels/ops.h"
#include "model/host_io.h"
#include "model/qwen3.h"

namespace wm {

double Qwen3Model::lm_head_loss(const Batch& batch, bool backward) {
  const Tensor w = lm_head(params_.params());
  const Tensor dw = lm_head(params_.grads());
  const int64_t T = tokens_, chunk = fwd_.logits.shape[0];
  if (backward) ops::convert(fwd_.loss_weight, batch.loss_weight());  // CE wants the stat dtype
  for (int64_t c0 = 0; c0 < T; c0 += chunk) {
    const int64_t c1 = std::min(T, c0 + chunk);
    const Tensor logits = fwd_.logits.slice(0, c1 - c0);
    const Tensor h = fwd_.final_normed.slice(c0, c1);
    const Tensor targets = batch.targets().slice(c0, c1);
    const Tensor lse = fwd_.token_lse.slice(c0, c1);
    ops::linear_forward(logits, h, w);
    ops::cross_entropy_forward(fwd_.token_loss.slice(c0, c1), lse, logits, targets, kIgnoreIndex);
    if (!backward) continue;
    ops::cross_entropy_backward(logits, logits, lse, targets, fwd_.loss_weight.slice(c0, c1), kIgnoreIndex);
    ops::matmul(grads_.d_normed.slice(c0, c1), logits, w);                  // dh = dlogits W
    ops::matmul(dw, logits, h, /*trans_a=*/true, /*trans_b=*/false, 1.0f, 1.0f);  // dW += dlogits^T h
  }
  const std::vector<double> losses = to_host_f64(fwd_.token_loss);
  const auto& weights = batch.host().loss_weight;
  double total = 0.0;
  for (int64_t t = 0; t < T; ++t) total += static_cast<double>(weights[t]) * losses[t];
  return total;
}

void Qwen3Model::lm_head_backward(const Batch& batch) {
  const Tensor w = lm_head(params_.params());
  const Tensor dw = lm_head(params_.grads());
  const int64_t T = tokens_, chunk = fwd_.logits.shape[0];
  for (int64_t c0 = 0; c0 < T; c0 += chunk) {
    const int64_t c1 = std::min(T, c0 + chunk);
    const Tensor logits = fwd_.logits.slice(0, c1 - c0);
    const Tensor h = fwd_.final_normed.slice(c0, c1);
    const Tensor targets = batch.targets().slice(c0, c1);
    ops::linear_forward(logits, h, w);
    ops::cross_entropy_backward(logits, logits, fwd_.token_lse.slice(c0, c1), targets,
                                fwd_.loss_weight.slice(c0, c1), kIgnoreIndex);
    ops::matmul(grads_.d_normed.slice(c0, c1), logits, w);
    ops::matmul(dw, logits, h, /*trans_a=*/true, /*trans_b=*/false, 1.0f, 1.0f);
  }
}

}  // namespace wm
