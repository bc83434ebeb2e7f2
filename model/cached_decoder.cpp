// CachedDecoder: the same per-layer ops as Qwen3Model::layer_forward (model/qwen3_forward.cpp),
// with the attention reading/writing the KV cache, and logits only for the rows that are sampled.
#include "model/cached_decoder.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <stdexcept>
#include <string>

#include "kernels/ops.h"

namespace wm {

namespace {

DType stat_dtype_of(DType model_dtype) { return model_dtype == DType::F64 ? DType::F64 : DType::F32; }

void check_size(const char* what, size_t n, int64_t cap) {
  if (n == 0 || static_cast<int64_t>(n) > cap)
    throw std::invalid_argument(std::string("CachedDecoder: ") + what + " has " + std::to_string(n) +
                                " entries; expected 1 to " + std::to_string(cap));
}

}  // namespace

CachedDecoder::CachedDecoder(Qwen3Model& model, KvCache& cache, int64_t max_tokens, int64_t max_logit_rows,
                             bool graphs)
    : model_(model),
      cache_(cache),
      cfg_(model.config()),
      max_tokens_(max_tokens),
      max_logit_rows_(max_logit_rows),
      use_graphs_(graphs) {
  if (max_tokens <= 0 || max_logit_rows <= 0)
    throw std::invalid_argument("CachedDecoder: max_tokens and max_logit_rows must be positive");
  const ParamStore& p = model.params();
  const DType dt = p.dtype();
  const Device dev = p.device();
  if (cache.keys(0).dtype != dt || cache.keys(0).device != dev || cache.keys(0).size(2) != cfg_.num_key_value_heads ||
      cache.keys(0).size(3) != cfg_.head_dim)
    throw std::invalid_argument("CachedDecoder: cache " + cache.keys(0).describe() + " does not fit the model (" +
                                dtype_name(dt) + " on " + device_name(dev) + ")");
  const int64_t d = cfg_.hidden_size, F = cfg_.intermediate_size, hq = cfg_.num_attention_heads,
                hkv = cfg_.num_key_value_heads, hd = cfg_.head_dim;
  for (int l = 0; l < cfg_.num_hidden_layers; ++l) {
    const std::string pre = "model.layers." + std::to_string(l) + ".";
    auto w = [&](const char* name) { return p.param(pre + name); };
    LayerViews v;
    v.input_norm = w("input_layernorm.weight");
    v.q = w("self_attn.q_proj.weight");
    v.k = w("self_attn.k_proj.weight");
    v.v = w("self_attn.v_proj.weight");
    v.q_norm = w("self_attn.q_norm.weight");
    v.k_norm = w("self_attn.k_norm.weight");
    v.o = w("self_attn.o_proj.weight");
    v.post_norm = w("post_attention_layernorm.weight");
    const Tensor gate = w("mlp.gate_proj.weight"), up = w("mlp.up_proj.weight");
    if (static_cast<char*>(up.data) != static_cast<char*>(gate.data) + gate.nbytes())
      throw std::logic_error("CachedDecoder: gate_proj and up_proj of layer " + std::to_string(l) +
                             " are not adjacent in the parameter store");
    v.gate_up = Tensor(gate.data, {2 * F, d}, gate.dtype, gate.device);
    v.down = w("mlp.down_proj.weight");
    layers_.push_back(v);
  }
  embedding_ = p.param("model.embed_tokens.weight");
  final_norm_ = p.param("model.norm.weight");
  lm_head_ = cfg_.tie_word_embeddings ? embedding_ : p.param("lm_head.weight");

  const int64_t N = max_tokens, M = max_logit_rows;
  const DType st = stat_dtype_of(dt);
  ids_ = OwnedTensor({7 * std::max(N, M)}, DType::I32, dev);
  hidden_ = OwnedTensor({N, d}, dt, dev);
  normed_ = OwnedTensor({N, d}, dt, dev);
  rstd_ = OwnedTensor({N}, st, dev);
  q_ = OwnedTensor({N, hq, hd}, dt, dev);
  k_ = OwnedTensor({N, hkv, hd}, dt, dev);
  k_raw_ = OwnedTensor({N, hkv, hd}, dt, dev);
  v_ = OwnedTensor({N, hkv, hd}, dt, dev);
  q_rstd_ = OwnedTensor({N * hq}, st, dev);
  k_rstd_ = OwnedTensor({N * hkv}, st, dev);
  attn_ = OwnedTensor({N, hq, hd}, dt, dev);
  lse_ = OwnedTensor({hq * N}, st, dev);
  proj_ = OwnedTensor({N, d}, dt, dev);
  gate_up_ = OwnedTensor({N, 2 * F}, dt, dev);
  act_ = OwnedTensor({N, F}, dt, dev);
  last_hidden_ = OwnedTensor({M, d}, dt, dev);
  final_normed_ = OwnedTensor({M, d}, dt, dev);
  final_rstd_ = OwnedTensor({M}, st, dev);
  logits_ = OwnedTensor({M, cfg_.vocab_size}, st, dev);
}

CachedDecoder::~CachedDecoder() {
  for (const auto& [batch, graph] : graphs_) ops::release_graph(model_.params().device(), graph);
}

// Packs the arrays (tokens, positions, slots, doc_start, lengths, sink_rows, logit_rows; null or
// empty = absent) into one host buffer and uploads it with a single copy.
CachedDecoder::Ids CachedDecoder::upload(const std::vector<const std::vector<int32_t>*>& arrays) {
  std::vector<int32_t> packed;
  std::vector<std::pair<int64_t, int64_t>> spans;  // offset, size
  for (const auto* a : arrays) {
    spans.emplace_back(static_cast<int64_t>(packed.size()), a ? static_cast<int64_t>(a->size()) : 0);
    if (a) packed.insert(packed.end(), a->begin(), a->end());
  }
  if (static_cast<int64_t>(packed.size()) > ids_.t().numel())
    throw std::logic_error("CachedDecoder: index upload larger than its buffer");
  const Tensor dst = ids_.t().slice(0, static_cast<int64_t>(packed.size()));
  ops::copy(dst, Tensor::from_shape(packed.data(), std::vector<int64_t>{dst.numel()}, DType::I32, Device::CPU));
  auto view = [&](size_t i) { return ids_.t().slice(spans[i].first, spans[i].first + spans[i].second); };
  return Ids{view(0), view(1), view(2), view(3), view(4), view(5), view(6)};
}

void CachedDecoder::run_layers(int64_t T, const Ids& ids, Attention attention, bool write_cache, bool select) {
  const int64_t hq = cfg_.num_attention_heads, hkv = cfg_.num_key_value_heads, hd = cfg_.head_dim;
  const float eps = static_cast<float>(cfg_.rms_norm_eps), theta = static_cast<float>(cfg_.rope_theta);
  const float scale = static_cast<float>(1.0 / std::sqrt(static_cast<double>(hd)));
  const Tensor hidden = hidden_.t().slice(0, T), normed = normed_.t().slice(0, T), rstd = rstd_.t().slice(0, T);
  const Tensor k_raw = k_raw_.t().slice(0, T);
  const Tensor q = q_.t().slice(0, T), k = k_.t().slice(0, T), v = v_.t().slice(0, T), attn = attn_.t().slice(0, T);
  const Tensor proj = proj_.t().slice(0, T), gate_up = gate_up_.t().slice(0, T), act = act_.t().slice(0, T);
  const Tensor q_rstd = q_rstd_.t().slice(0, T * hq), k_rstd = k_rstd_.t().slice(0, T * hkv);
  WeMask& wemask = model_.wemask();

  ops::embedding_forward(hidden, ids.tokens, embedding_);
  for (int l = 0; l < cfg_.num_hidden_layers; ++l) {
    const LayerViews& w = layers_[l];
    ops::rmsnorm_forward(normed, rstd, hidden, w.input_norm, eps);
    if (select) wemask.select(l, normed, ids.sink_rows, w.input_norm);
    wemask.apply(l, normed, ids.sink_rows);

    ops::linear_forward(attn.view({T, hq * hd}), normed, w.q);  // raw q in attn's memory
    ops::linear_forward(k_raw.view({T, hkv * hd}), normed, w.k);
    ops::linear_forward(v.view({T, hkv * hd}), normed, w.v);
    ops::rmsnorm_forward(q.view({T * hq, hd}), q_rstd, attn.view({T * hq, hd}), w.q_norm, eps);
    ops::rmsnorm_forward(k.view({T * hkv, hd}), k_rstd, k_raw.view({T * hkv, hd}), w.k_norm, eps);
    ops::rope_forward(q, ids.positions, theta);
    ops::rope_forward(k, ids.positions, theta);
    const Tensor& kc = cache_.keys(l);
    const Tensor& vc = cache_.values(l);
    if (write_cache) ops::kv_cache_write(kc, vc, k, v, ids.slots, ids.positions);
    if (attention == Attention::Packed) {
      ops::attention_forward(attn, lse_.t().slice(0, hq * T).view({hq, T}), q, k, v, ids.doc_start, scale);
    } else {
      ops::attention_decode(attn, q, kc, vc, ids.slots, ids.lengths, scale);
    }
    ops::linear_forward(proj, attn.view({T, hq * hd}), w.o);
    ops::add(hidden, proj);

    ops::rmsnorm_forward(normed, rstd, hidden, w.post_norm, eps);
    ops::linear_forward(gate_up, normed, w.gate_up);
    ops::swiglu_forward(act, gate_up);
    ops::linear_forward(proj, act, w.down);
    ops::add(hidden, proj);
  }
}

Tensor CachedDecoder::logits(int64_t rows, const Tensor* gather_rows) {
  Tensor h = hidden_.t().slice(0, rows);
  if (gather_rows) {
    h = last_hidden_.t().slice(0, rows);
    ops::embedding_forward(h, *gather_rows, hidden_.t());  // h[r] = hidden[gather_rows[r]]
  }
  const Tensor normed = final_normed_.t().slice(0, rows), out = logits_.t().slice(0, rows);
  ops::rmsnorm_forward(normed, final_rstd_.t().slice(0, rows), h, final_norm_, static_cast<float>(cfg_.rms_norm_eps));
  ops::linear_forward(out, normed, lm_head_);
  return out;
}

void CachedDecoder::select_wemask(const std::vector<int32_t>& first_tokens) {
  const WeMask& wemask = model_.wemask();
  bool any = false;
  for (int l = 0; l < cfg_.num_hidden_layers; ++l) any = any || wemask.active(l);
  if (!any) return;
  check_size("select_wemask's first tokens", first_tokens.size(), max_tokens_);
  const int64_t T = static_cast<int64_t>(first_tokens.size());
  std::vector<int32_t> zeros(T, 0), rows(T);
  std::iota(rows.begin(), rows.end(), 0);
  // one-token documents: doc_start[t] = t, positions 0, every row a sink row
  const Ids ids = upload({&first_tokens, &zeros, nullptr, &rows, nullptr, &rows, nullptr});
  run_layers(T, ids, Attention::Packed, /*write_cache=*/false, /*select=*/true);
}

Tensor CachedDecoder::prefill(const Prefill& c) {
  const int64_t T = static_cast<int64_t>(c.tokens.size());
  check_size("prefill tokens", c.tokens.size(), max_tokens_);
  check_size("prefill logit_rows", c.logit_rows.size(), max_logit_rows_);
  for (const auto* a : {&c.positions, &c.doc_start, &c.slots})
    if (static_cast<int64_t>(a->size()) != T)
      throw std::invalid_argument("CachedDecoder::prefill: positions/doc_start/slots must have one entry per token");
  std::vector<int32_t> sinks;
  for (int64_t t = 0; t < T; ++t) {
    if (c.positions[t] == 0) sinks.push_back(static_cast<int32_t>(t));
    if (c.doc_start[t] < 0 || c.doc_start[t] > t || c.positions[t] != t - c.doc_start[t])
      throw std::invalid_argument("CachedDecoder::prefill: token " + std::to_string(t) +
                                  " has a position that does not match its document start");
  }
  for (int32_t r : c.logit_rows)
    if (r < 0 || r >= T) throw std::invalid_argument("CachedDecoder::prefill: logit row " + std::to_string(r) + " out of range");
  const Ids ids = upload({&c.tokens, &c.positions, &c.slots, &c.doc_start, nullptr, &sinks, &c.logit_rows});
  run_layers(T, ids, Attention::Packed, /*write_cache=*/true, /*select=*/false);
  return logits(static_cast<int64_t>(c.logit_rows.size()), &ids.logit_rows);
}

Tensor CachedDecoder::decode(const std::vector<int32_t>& tokens, const std::vector<int32_t>& positions,
                             const std::vector<int32_t>& slots) {
  const int64_t B = static_cast<int64_t>(tokens.size());
  check_size("decode tokens", tokens.size(), std::min(max_tokens_, max_logit_rows_));
  if (static_cast<int64_t>(positions.size()) != B || static_cast<int64_t>(slots.size()) != B)
    throw std::invalid_argument("CachedDecoder::decode: positions/slots must have one entry per token");
  std::vector<int32_t> lengths(positions);
  for (auto& n : lengths) ++n;
  const Ids ids = upload({&tokens, &positions, &slots, nullptr, &lengths, nullptr, nullptr});
  // The index arrays of a decode call of B rows always land at the same addresses, so one
  // recording per B serves every step of that size.
  const Device device = model_.params().device();
  if (use_graphs_ && !graphs_.count(B)) {
    if (ops::begin_capture(device)) {
      try {
        run_layers(B, ids, Attention::Cached, /*write_cache=*/true, /*select=*/false);
        logits(B, nullptr);
        graphs_[B] = ops::end_capture(device);
      } catch (...) {
        ops::abort_capture(device);
        throw;
      }
    } else {
      use_graphs_ = false;  // the backend has no graphs (CPU)
    }
  }
  if (use_graphs_) {
    ops::replay_graph(device, graphs_.at(B));
    return logits_.t().slice(0, B);
  }
  run_layers(B, ids, Attention::Cached, /*write_cache=*/true, /*select=*/false);
  return logits(B, nullptr);
}

}  // namespace wm
