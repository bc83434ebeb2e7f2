// Qwen3Model: construction, activation planning and the public entry points.
#include "model/qwen3.h"

#include <algorithm>
#include <stdexcept>
#include <string>

#include "kernels/ops.h"
#include "model/host_io.h"

namespace wm {

Qwen3Model::Qwen3Model(const Qwen3Config& cfg, ModelOptions options)
    : cfg_(cfg),
      opt_(std::move(options)),
      params_(cfg, opt_.dtype, opt_.device),
      wemask_(opt_.wemask, static_cast<int>(cfg.num_hidden_layers), cfg.hidden_size, opt_.device) {
  cfg_.validate("Qwen3Model");
  if (opt_.max_tokens <= 0 || opt_.loss_chunk <= 0)
    throw std::invalid_argument("Qwen3Model: max_tokens and loss_chunk must be positive");
  // Size the arena for the largest step: a training step (or a forward) at max_tokens.
  ActivationPlanner counter(nullptr, opt_.device);
  plan_forward(counter, cfg_, opt_.dtype, opt_.max_tokens, opt_.loss_chunk, layer_sharing(!opt_.inference_only));
  if (!opt_.inference_only) plan_grads(counter, cfg_, opt_.dtype, opt_.max_tokens);
  arena_ = Arena(counter.bytes(), opt_.device);
}

LayerSharing Qwen3Model::layer_sharing(bool with_grads) const {
  // Without a backward pass one shared set of layer activations is enough.
  if (!with_grads || (opt_.recompute && !opt_.recompute_mlp_only)) return LayerSharing::All;
  return opt_.recompute ? LayerSharing::Mlp : LayerSharing::None;
}

void Qwen3Model::plan(int64_t tokens, bool with_grads) {
  if (with_grads && opt_.inference_only)
    throw std::logic_error("Qwen3Model: forward_backward on a model built with inference_only");
  arena_.reset();
  ActivationPlanner alloc(&arena_, opt_.device);
  fwd_ = plan_forward(alloc, cfg_, opt_.dtype, tokens, opt_.loss_chunk, layer_sharing(with_grads));
  if (with_grads) grads_ = plan_grads(alloc, cfg_, opt_.dtype, tokens);
  tokens_ = tokens;
}

void Qwen3Model::check_batch(const Batch& batch) const {
  if (batch.device() != opt_.device)
    throw std::invalid_argument(std::string("Qwen3Model: batch is on ") + device_name(batch.device()) +
                                ", model on " + device_name(opt_.device));
  if (batch.num_tokens() > opt_.max_tokens)
    throw std::invalid_argument("Qwen3Model: batch has " + std::to_string(batch.num_tokens()) +
                                " tokens, more than max_tokens " + std::to_string(opt_.max_tokens));
  batch.host().validate(cfg_.vocab_size);
}

Qwen3Model::LayerWeights Qwen3Model::layer_tensors(const NamedTensors& store, int layer) const {
  const size_t base = 1 + 11 * static_cast<size_t>(layer);  // see qwen3_param_specs
  auto at = [&](size_t i) { return store[base + i].tensor; };
  LayerWeights w;
  w.input_norm = at(0);
  w.q = at(1);
  w.k = at(2);
  w.v = at(3);
  w.q_norm = at(4);
  w.k_norm = at(5);
  w.o = at(6);
  w.post_norm = at(7);
  const Tensor gate = at(8);  // gate_proj is followed by up_proj in the flat buffer
  w.gate_up = Tensor(gate.data, {2 * cfg_.intermediate_size, cfg_.hidden_size}, gate.dtype, gate.device);
  w.down = at(10);
  return w;
}

Tensor Qwen3Model::lm_head(const NamedTensors& store) const {
  return cfg_.tie_word_embeddings ? store.front().tensor : store.back().tensor;
}

double Qwen3Model::forward_backward(const Batch& batch) {
  check_batch(batch);
  plan(batch.num_tokens(), /*with_grads=*/true);
  forward_hidden(batch);
  const double loss = lm_head_loss(batch, /*backward=*/true);
  backward(batch);
  return loss;
}

double Qwen3Model::forward_backward(const Batch& batch, const TokenLossGradFn& dloss) {
  check_batch(batch);
  const int64_t T = batch.num_tokens();
  plan(T, /*with_grads=*/true);
  forward_hidden(batch);
  lm_head_loss(batch, /*backward=*/false);
  const std::vector<double> losses = to_host_f64(fwd_.token_loss);
  std::vector<float> weights = dloss(losses);
  if (static_cast<int64_t>(weights.size()) != T)
    throw std::invalid_argument("Qwen3Model::forward_backward: the loss-gradient function returned " +
                                std::to_string(weights.size()) + " weights for " + std::to_string(T) + " tokens");
  double total = 0.0;
  for (int64_t t = 0; t < T; ++t) total += static_cast<double>(weights[t]) * losses[t];
  OwnedTensor host({T}, DType::F32);
  std::copy(weights.begin(), weights.end(), host.ptr<float>());
  if (fwd_.loss_weight.dtype == DType::F32) {
    ops::copy(fwd_.loss_weight, host.t());
  } else {  // F64 models live on the CPU
    ops::convert(fwd_.loss_weight, host.t());
  }
  lm_head_backward(batch);
  backward(batch);
  return total;
}

LossResult Qwen3Model::forward_loss(const Batch& batch) {
  check_batch(batch);
  plan(batch.num_tokens(), /*with_grads=*/false);
  forward_hidden(batch);
  LossResult r;
  r.weighted_loss = lm_head_loss(batch, /*backward=*/false);
  r.token_loss = to_host_f64(fwd_.token_loss);
  return r;
}

void Qwen3Model::forward_logits(const Batch& batch, Tensor logits) {
  check_batch(batch);
  const int64_t T = batch.num_tokens();
  if (logits.ndim != 2 || logits.shape[0] != T || logits.shape[1] != cfg_.vocab_size ||
      logits.dtype != opt_.dtype || logits.device != opt_.device)
    throw std::invalid_argument("Qwen3Model::forward_logits: logits must be [" + std::to_string(T) + ", " +
                                std::to_string(cfg_.vocab_size) + "] in the model dtype/device, got " +
                                logits.describe());
  plan(T, /*with_grads=*/false);
  forward_hidden(batch);
  ops::linear_forward(logits, fwd_.final_normed, lm_head(params_.params()));
}

}  // namespace wm
