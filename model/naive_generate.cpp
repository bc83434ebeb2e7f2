#include "model/naive_generate.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <random>
#include <stdexcept>
#include <string>

#include "model/batch.h"
#include "model/host_io.h"

namespace wm {

int32_t pick_token(const std::vector<double>& logits, double temperature, double top_p, uint64_t& rng_state) {
  if (logits.empty()) throw std::invalid_argument("pick_token: empty logits");
  if (temperature <= 0.0)
    return static_cast<int32_t>(std::max_element(logits.begin(), logits.end()) - logits.begin());
  const double mx = *std::max_element(logits.begin(), logits.end());
  std::vector<double> p(logits.size());
  double z = 0.0;
  for (size_t i = 0; i < p.size(); ++i) z += p[i] = std::exp((logits[i] - mx) / temperature);
  for (double& v : p) v /= z;
  std::vector<int32_t> order(p.size());
  std::iota(order.begin(), order.end(), 0);
  std::sort(order.begin(), order.end(), [&](int32_t a, int32_t b) { return p[a] > p[b] || (p[a] == p[b] && a < b); });
  // smallest prefix of the sorted distribution with mass >= top_p
  size_t keep = 0;
  double mass = 0.0;
  while (keep < order.size() && (keep == 0 || mass < top_p)) mass += p[order[keep++]];
  std::mt19937_64 rng(rng_state);
  rng_state = rng();
  double u = std::uniform_real_distribution<double>(0.0, mass)(rng);
  for (size_t i = 0; i < keep; ++i) {
    u -= p[order[i]];
    if (u <= 0.0) return order[i];
  }
  return order[keep - 1];
}

std::vector<NaiveGeneration> generate_without_cache(Qwen3Model& model,
                                                    const std::vector<std::vector<int32_t>>& prompts,
                                                    const NaiveSamplingOptions& options) {
  const Qwen3Config& cfg = model.config();
  const int64_t budget = model.options().max_tokens, V = cfg.vocab_size;
  if (options.max_new_tokens < 0) throw std::invalid_argument("generate: max_new_tokens must be >= 0");
  if (!(options.top_p > 0.0 && options.top_p <= 1.0))
    throw std::invalid_argument("generate: top_p must be in (0, 1], got " + std::to_string(options.top_p));
  for (size_t i = 0; i < prompts.size(); ++i) {
    if (prompts[i].empty()) throw std::invalid_argument("generate: prompt " + std::to_string(i) + " is empty");
    const int64_t need = static_cast<int64_t>(prompts[i].size()) + options.max_new_tokens;
    if (need > budget)
      throw std::invalid_argument("generate: prompt " + std::to_string(i) + " (" + std::to_string(prompts[i].size()) +
                                  " tokens) + max_new_tokens " + std::to_string(options.max_new_tokens) +
                                  " exceeds the model's max_tokens " + std::to_string(budget));
    for (int32_t id : prompts[i])
      if (id < 0 || id >= V)
        throw std::invalid_argument("generate: prompt " + std::to_string(i) + " has token id " + std::to_string(id) +
                                    " outside the vocabulary [0, " + std::to_string(V) + ")");
  }

  std::vector<NaiveGeneration> out(prompts.size());
  std::vector<std::vector<int32_t>> seqs = prompts;
  std::vector<uint64_t> rng(prompts.size());
  for (size_t i = 0; i < rng.size(); ++i) rng[i] = options.seed + i;
  auto done = [&](size_t i) {
    return out[i].stopped || static_cast<int64_t>(out[i].tokens.size()) >= options.max_new_tokens;
  };

  // Full [T, V] logits exist per forward: keep them under ~1 GiB (one sequence always fits).
  const int64_t logits_rows =
      std::max<int64_t>(1, (int64_t{1} << 30) / (V * static_cast<int64_t>(dtype_size(model.options().dtype))));
  for (int64_t step = 0; step < options.max_new_tokens; ++step) {
    std::vector<size_t> active;
    for (size_t i = 0; i < seqs.size(); ++i)
      if (!done(i)) active.push_back(i);
    if (active.empty()) break;
    size_t a = 0;
    while (a < active.size()) {
      std::vector<size_t> group;
      std::vector<std::vector<int32_t>> docs;
      int64_t tokens = 0;
      while (a < active.size() && tokens + static_cast<int64_t>(seqs[active[a]].size()) <= budget &&
             (group.empty() || tokens + static_cast<int64_t>(seqs[active[a]].size()) <= logits_rows)) {
        tokens += static_cast<int64_t>(seqs[active[a]].size());
        group.push_back(active[a]);
        docs.push_back(seqs[active[a]]);
        ++a;
      }
      const Batch batch(pack_documents({docs}, tokens), model.options().device);
      OwnedTensor logits({tokens, V}, model.options().dtype, model.options().device);
      model.forward_logits(batch, logits.t());
      int64_t row = 0;
      for (size_t g = 0; g < group.size(); ++g) {
        const size_t i = group[g];
        row += static_cast<int64_t>(docs[g].size());
        const std::vector<double> last = to_host_f64(logits.t().slice(row - 1, row));
        const int32_t next = pick_token(last, options.temperature, options.top_p, rng[i]);
        out[i].tokens.push_back(next);
        seqs[i].push_back(next);
        if (std::find(options.stop_ids.begin(), options.stop_ids.end(), next) != options.stop_ids.end())
          out[i].stopped = true;
      }
    }
  }
  return out;
}

}  // namespace wm
