#include "model/analysis/me_probe.h"

#include <algorithm>
#include <cmath>
#include <memory>
#include <stdexcept>
#include <string>

#include "kernels/ops.h"
#include "model/batch.h"

namespace wm::analysis {
namespace {

// Observer that copies one layer's tensors to the host and feeds the accumulator.
class StatsObserver {
 public:
  StatsObserver(ActivationStatsAccumulator& acc, const Qwen3Config& cfg, bool sink)
      : acc_(acc), cfg_(cfg), sink_(sink) {}

  void set_batch(const HostBatch* batch) { batch_ = batch; }

  void operator()(const wm::LayerObservation& o) {
    const int64_t T = batch_->num_tokens();
    const auto input = host_f32(o.input), output = host_f32(o.output), mlp = host_f32(o.mlp_output);
    const auto rstd1 = host_f32(o.input_rstd), rstd2 = host_f32(o.post_attn_rstd);
    LayerObservation obs;
    obs.layer = o.layer;
    obs.tokens = T;
    obs.hidden = cfg_.hidden_size;
    obs.input = input;
    obs.output = output;
    obs.mlp_out = mlp;
    obs.input_rstd = rstd1;
    obs.post_attn_rstd = rstd2;
    obs.doc_start = batch_->doc_start;
    obs.token_ids = batch_->tokens;
    std::vector<float> q, k, lse;
    if (sink_) {
      q = host_f32(o.q);
      k = host_f32(o.k);
      lse = host_f32(o.attn_lse);
      obs.q_heads = cfg_.num_attention_heads;
      obs.kv_heads = cfg_.num_key_value_heads;
      obs.head_dim = cfg_.head_dim;
      obs.attn_scale = static_cast<float>(1.0 / std::sqrt(static_cast<double>(cfg_.head_dim)));
      obs.q = q;
      obs.k = k;
      obs.lse = lse;
    }
    acc_.observe(obs);
  }

 private:
  ActivationStatsAccumulator& acc_;
  const Qwen3Config& cfg_;
  bool sink_;
  const HostBatch* batch_ = nullptr;
};

// Clears the model's observer on every exit path.
struct ObserverGuard {
  Qwen3Model& model;
  ~ObserverGuard() { model.set_observer(nullptr); }
};

}  // namespace

std::vector<float> host_f32(const Tensor& t) {
  const int64_t n = t.numel();
  std::vector<float> out(static_cast<size_t>(n));
  if (n == 0) return out;
  OwnedTensor staging;
  const void* src = t.data;
  if (t.device != Device::CPU) {
    staging = OwnedTensor(std::span<const int64_t>(t.shape.data(), t.ndim), t.dtype, Device::CPU);
    ops::copy(staging.t(), t);
    src = staging.t().data;
  }
  switch (t.dtype) {
    case DType::F32: {
      const auto* p = static_cast<const float*>(src);
      std::copy(p, p + n, out.begin());
      break;
    }
    case DType::F64: {
      const auto* p = static_cast<const double*>(src);
      for (int64_t i = 0; i < n; ++i) out[i] = static_cast<float>(p[i]);
      break;
    }
    case DType::BF16: {
      const auto* p = static_cast<const bf16*>(src);
      for (int64_t i = 0; i < n; ++i) out[i] = bf16_to_float(p[i]);
      break;
    }
    case DType::F16: {
      const auto* p = static_cast<const f16*>(src);
      for (int64_t i = 0; i < n; ++i) out[i] = f16_to_float(p[i]);
      break;
    }
    default:
      throw std::invalid_argument("host_f32: " + t.describe() + " is not a float tensor");
  }
  return out;
}

ProbeResult analyze_activations(Qwen3Model& model, const std::vector<std::vector<int32_t>>& documents,
                                const ProbeOptions& options) {
  const Qwen3Config& cfg = model.config();
  validate(options.detector);
  if (documents.empty()) throw std::invalid_argument("activation analysis: no calibration documents");
  const int64_t budget = std::min(options.max_tokens_per_forward, model.options().max_tokens);
  for (size_t i = 0; i < documents.size(); ++i) {
    const auto& doc = documents[i];
    const std::string where = "activation analysis: document " + std::to_string(i) + ": ";
    if (doc.size() < 2) throw std::invalid_argument(where + "needs at least 2 tokens");
    if (static_cast<int64_t>(doc.size()) > budget)
      throw std::invalid_argument(where + std::to_string(doc.size()) + " tokens exceed the " +
                                  std::to_string(budget) + " tokens of one forward (max_tokens)");
    for (size_t j = 0; j < doc.size(); ++j)
      if (doc[j] < 0 || doc[j] >= cfg.vocab_size)
        throw std::invalid_argument(where + "token id " + std::to_string(doc[j]) + " at position " +
                                    std::to_string(j) + " is outside the vocabulary [0, " +
                                    std::to_string(cfg.vocab_size) + ")");
  }

  ActivationStatsAccumulator acc(static_cast<int>(cfg.num_hidden_layers), cfg.hidden_size, options.stats);
  auto observer = std::make_shared<StatsObserver>(acc, cfg, options.attention_sink);
  ObserverGuard guard{model};
  model.set_observer([observer](const wm::LayerObservation& o) { (*observer)(o); });

  size_t begin = 0;
  while (begin < documents.size()) {
    std::vector<std::vector<int32_t>> group;
    int64_t tokens = 0;
    size_t end = begin;
    while (end < documents.size() && tokens + static_cast<int64_t>(documents[end].size()) <= budget) {
      tokens += static_cast<int64_t>(documents[end].size());
      group.push_back(documents[end++]);
    }
    const HostBatch host = pack_documents({group}, tokens);
    observer->set_batch(&host);
    model.forward_loss(Batch(host, model.options().device));
    begin = end;
  }

  ProbeResult result;
  result.layers = acc.layers();
  result.detection = detect_me_layer(result.layers, options.detector);
  return result;
}

MeDetection detect_me_layer(Qwen3Model& model, const std::vector<std::vector<int32_t>>& documents,
                            const MeDetectorOptions& options) {
  ProbeOptions probe;
  probe.detector = options;
  probe.attention_sink = false;
  MeDetection det = analyze_activations(model, documents, probe).detection;
  if (!det.found) throw std::runtime_error("me_layer: auto found no ME layer: " + det.reason);
  return det;
}

}  // namespace wm::analysis
