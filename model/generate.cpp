// generate(): validation, prefill chunking, the decode loop and sampling (see generate.h).
#include "model/generate.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <stdexcept>
#include <string>

#include "kernels/ops.h"
#include "model/cached_decoder.h"
#include "model/kv_cache.h"
#include "model/token_sampler.h"

namespace wm {

namespace {

[[noreturn]] void bad(const std::string& what) { throw std::invalid_argument("generate: " + what); }

void validate(const Qwen3Config& cfg, const std::vector<std::vector<int32_t>>& prompts, const SamplingOptions& o) {
  if (o.max_new_tokens < 0) bad("max_new_tokens must be >= 0, got " + std::to_string(o.max_new_tokens));
  if (!(o.temperature >= 0.0) || !std::isfinite(o.temperature))
    bad("temperature must be finite and >= 0, got " + std::to_string(o.temperature));
  if (!(o.top_p > 0.0 && o.top_p <= 1.0)) bad("top_p must be in (0, 1], got " + std::to_string(o.top_p));
  if (o.top_k < 0) bad("top_k must be >= 0, got " + std::to_string(o.top_k));
  for (size_t i = 0; i < prompts.size(); ++i) {
    if (prompts[i].empty()) bad("prompt " + std::to_string(i) + " is empty");
    for (int32_t id : prompts[i])
      if (id < 0 || id >= cfg.vocab_size)
        bad("prompt " + std::to_string(i) + " has token id " + std::to_string(id) + " outside the vocabulary [0, " +
            std::to_string(cfg.vocab_size) + ")");
    if (static_cast<int64_t>(prompts[i].size()) + o.max_new_tokens >= INT32_MAX)
      bad("prompt " + std::to_string(i) + " + max_new_tokens is too long");
  }
  for (int32_t id : o.stop_ids)
    if (id < 0 || id >= cfg.vocab_size) bad("stop id " + std::to_string(id) + " is outside the vocabulary");
}

// Samples one token for each row of logits [R, V]; row r belongs to sequence seqs[r].
class RowSampler {
 public:
  RowSampler(const SamplingOptions& o, int64_t max_rows, Device device)
      : o_(o),
        ids_({max_rows}, DType::I32, device),
        logprobs_({max_rows}, DType::F32, device),
        uniforms_({max_rows}, DType::F32, device) {}

  // Draws each row's uniform from its sequence's stream (and uploads them for the device path)
  // before the forward is enqueued, so that the upload does not wait for it.
  void prepare(const std::vector<size_t>& seqs, std::vector<SequenceRng>& rngs) {
    const int64_t R = static_cast<int64_t>(seqs.size());
    u_.resize(R);
    for (int64_t r = 0; r < R; ++r) u_[r] = rngs[seqs[r]].uniform();
    if (!truncated())
      ops::copy(uniforms_.t().slice(0, R), Tensor::from_shape(u_.data(), std::vector<int64_t>{R}, DType::F32, Device::CPU));
  }

  // One token for each row of logits [R, V], with the uniforms of the last prepare().
  std::vector<SampledToken> sample(const Tensor& logits) {
    const int64_t R = logits.size(0), V = logits.size(1);
    if (R != static_cast<int64_t>(u_.size())) throw std::logic_error("RowSampler: prepare() was not called for these rows");
    const std::vector<float>& u = u_;
    std::vector<SampledToken> out(R);
    if (truncated()) {  // host path: the rows' logits come back to the host
      OwnedTensor host({R, V}, DType::F32);
      if (logits.dtype == DType::F32) ops::copy(host.t(), logits);
      else {
        OwnedTensor tmp({R, V}, logits.dtype);
        ops::copy(tmp.t(), logits);
        ops::convert(host.t(), tmp.t());
      }
      for (int64_t r = 0; r < R; ++r)
        out[r] = sample_truncated(std::span<const float>(host.ptr<float>() + r * V, V), o_.temperature, o_.top_k,
                                  o_.top_p, u[r]);
      return out;
    }
    const Tensor uni = uniforms_.t().slice(0, R), ids = ids_.t().slice(0, R), lps = logprobs_.t().slice(0, R);
    ops::sample_tokens(ids, lps, logits, uni, static_cast<float>(o_.temperature));
    std::vector<int32_t> id_host(R);
    std::vector<float> lp_host(R);
    ops::copy(Tensor::from_shape(id_host.data(), std::vector<int64_t>{R}, DType::I32, Device::CPU), ids);
    ops::copy(Tensor::from_shape(lp_host.data(), std::vector<int64_t>{R}, DType::F32, Device::CPU), lps);
    for (int64_t r = 0; r < R; ++r) out[r] = {id_host[r], lp_host[r]};
    return out;
  }

 private:
  bool truncated() const { return o_.temperature > 0.0 && (o_.top_k > 0 || o_.top_p < 1.0); }

  const SamplingOptions& o_;
  OwnedTensor ids_, logprobs_, uniforms_;
  std::vector<float> u_;
};

}  // namespace

std::vector<Generation> generate(Qwen3Model& model, const std::vector<std::vector<int32_t>>& prompts,
                                 const SamplingOptions& options) {
  return generate(model, prompts, options, EngineOptions{});
}

std::vector<Generation> generate(Qwen3Model& model, const std::vector<std::vector<int32_t>>& prompts,
                                 const SamplingOptions& options, const EngineOptions& engine) {
  const Qwen3Config& cfg = model.config();
  validate(cfg, prompts, options);
  if (engine.max_sequences < 0) bad("max_sequences must be >= 0, got " + std::to_string(engine.max_sequences));
  const size_t P = prompts.size();
  std::vector<Generation> out(P);
  if (P == 0 || options.max_new_tokens == 0) return out;

  int64_t longest = 0;
  for (const auto& p : prompts) longest = std::max<int64_t>(longest, static_cast<int64_t>(p.size()));
  const int64_t budget = std::max(model.options().max_tokens, longest);
  const int64_t num_prompts = static_cast<int64_t>(P);
  const int64_t S = engine.max_sequences > 0 ? std::min(num_prompts, engine.max_sequences) : num_prompts;
  // The last generated token is never fed back, so a sequence needs prompt + max_new - 1 positions.
  KvCache cache(cfg, S, longest + options.max_new_tokens - 1, model.params().dtype(), model.params().device());
  CachedDecoder decoder(model, cache, std::max({budget, num_prompts, S}), S, engine.cuda_graphs);
  RowSampler sampler(options, S, model.params().device());
  std::vector<SequenceRng> rngs;
  for (size_t i = 0; i < P; ++i) rngs.emplace_back(options.seed, i);

  std::vector<int32_t> slot_of(P, -1);  // cache slot of an active sequence
  std::vector<int32_t> free_slots;
  for (int64_t s = S - 1; s >= 0; --s) free_slots.push_back(static_cast<int32_t>(s));
  auto record = [&](size_t i, const SampledToken& s) {
    out[i].tokens.push_back(s.id);
    out[i].logprobs.push_back(s.logprob);
    if (std::find(options.stop_ids.begin(), options.stop_ids.end(), s.id) != options.stop_ids.end())
      out[i].stopped = true;
    if (out[i].stopped || static_cast<int64_t>(out[i].tokens.size()) >= options.max_new_tokens) {
      free_slots.push_back(slot_of[i]);  // finished: its slot takes the next prompt
      slot_of[i] = -1;
    }
  };

  GenerationStats stats;
  using Clock = std::chrono::steady_clock;
  auto seconds = [](Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); };

  std::vector<int32_t> first_tokens;
  for (const auto& p : prompts) first_tokens.push_back(p.front());
  decoder.select_wemask(first_tokens);

  size_t next = 0;  // first prompt not yet prefilled
  auto admit = [&] {  // prefill waiting prompts into free slots, in chunks of at most `budget` tokens
    while (next < P && !free_slots.empty()) {
      CachedDecoder::Prefill chunk;
      std::vector<size_t> seqs;
      while (next < P && !free_slots.empty() &&
             static_cast<int64_t>(chunk.tokens.size() + prompts[next].size()) <= budget) {
        const size_t i = next++;
        slot_of[i] = free_slots.back();
        free_slots.pop_back();
        const int32_t start = static_cast<int32_t>(chunk.tokens.size());
        for (size_t t = 0; t < prompts[i].size(); ++t) {
          chunk.tokens.push_back(prompts[i][t]);
          chunk.positions.push_back(static_cast<int32_t>(t));
          chunk.doc_start.push_back(start);
          chunk.slots.push_back(slot_of[i]);
        }
        chunk.logit_rows.push_back(static_cast<int32_t>(chunk.tokens.size()) - 1);
        seqs.push_back(i);
      }
      const auto t0 = Clock::now();
      sampler.prepare(seqs, rngs);
      const auto picked = sampler.sample(decoder.prefill(chunk));
      for (size_t r = 0; r < seqs.size(); ++r) record(seqs[r], picked[r]);
      stats.prefill_s += seconds(t0);
      ++stats.prefill_chunks;
    }
  };

  admit();
  while (true) {  // decode steps over the active sequences, refilling freed slots in between
    std::vector<size_t> live;
    std::vector<int32_t> tokens, positions, slots;
    for (size_t i = 0; i < P; ++i) {
      if (slot_of[i] < 0) continue;
      live.push_back(i);
      tokens.push_back(out[i].tokens.back());
      positions.push_back(static_cast<int32_t>(prompts[i].size() + out[i].tokens.size() - 1));
      slots.push_back(slot_of[i]);
    }
    if (live.empty() && next >= P) break;
    if (!live.empty()) {
      const auto t0 = Clock::now();
      sampler.prepare(live, rngs);
      const auto t1 = Clock::now();
      const Tensor logits = decoder.decode(tokens, positions, slots);
      stats.decode_enqueue_s += seconds(t1);
      const auto picked = sampler.sample(logits);
      for (size_t r = 0; r < live.size(); ++r) record(live[r], picked[r]);
      stats.decode_s += seconds(t0);
      ++stats.decode_steps;
    }
    admit();
  }
  if (engine.stats) *engine.stats = stats;
  return out;
}

}  // namespace wm
