#include "model/analysis/layer_stats.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <stdexcept>
#include <string>

#include "model/analysis/attention_sink.h"

namespace wm::analysis {
namespace {

double safe_mean(double sum, int64_t n) { return n > 0 ? sum / static_cast<double>(n) : 0.0; }

float median_of(std::vector<float>& v) {
  if (v.empty()) return 0.0f;
  const size_t mid = v.size() / 2;
  std::nth_element(v.begin(), v.begin() + mid, v.end());
  float m = v[mid];
  if (v.size() % 2 == 0) {
    const float below = *std::max_element(v.begin(), v.begin() + mid);
    m = 0.5f * (m + below);
  }
  return m;
}

void require(bool ok, const LayerObservation& obs, const std::string& what) {
  if (!ok) throw std::invalid_argument("activation stats, layer " + std::to_string(obs.layer) + ": " + what);
}

void require_size(const LayerObservation& obs, const char* name, size_t got, int64_t want) {
  require(static_cast<int64_t>(got) == want, obs,
          std::string(name) + " has " + std::to_string(got) + " values, expected " + std::to_string(want));
}

}  // namespace

double LayerStats::median_abs() const {
  if (document_median.empty()) return 0.0;
  return std::accumulate(document_median.begin(), document_median.end(), 0.0) /
         static_cast<double>(document_median.size());
}
double LayerStats::first_max_abs() const {
  return first_out_abs.empty() ? 0.0 : *std::max_element(first_out_abs.begin(), first_out_abs.end());
}
double LayerStats::first_cosine() const { return safe_mean(first_cosine_sum, documents); }
double LayerStats::first_input_rstd() const { return safe_mean(first_input_rstd_sum, documents); }
double LayerStats::first_post_attn_rstd() const { return safe_mean(first_post_attn_rstd_sum, documents); }
double LayerStats::rest_input_rstd() const { return safe_mean(rest_input_rstd_sum, rest_tokens); }
double LayerStats::rest_post_attn_rstd() const { return safe_mean(rest_post_attn_rstd_sum, rest_tokens); }
double LayerStats::first_ffn_rms() const { return safe_mean(first_ffn_rms_sum, documents); }
double LayerStats::rest_ffn_rms() const { return safe_mean(rest_ffn_rms_sum, rest_tokens); }
double LayerStats::first_max_median_ratio() const { return safe_mean(first_ratio_sum, documents); }
double LayerStats::rest_max_median_ratio() const { return safe_mean(rest_ratio_sum, rest_tokens); }

std::vector<double> LayerStats::sink_ratio_per_head() const {
  std::vector<double> r(sink_mass_sum.size(), 0.0);
  for (size_t h = 0; h < r.size(); ++h) r[h] = safe_mean(sink_mass_sum[h], sink_queries);
  return r;
}

double LayerStats::sink_ratio() const {
  if (sink_mass_sum.empty() || sink_queries == 0) return std::numeric_limits<double>::quiet_NaN();
  const auto per_head = sink_ratio_per_head();
  return std::accumulate(per_head.begin(), per_head.end(), 0.0) / static_cast<double>(per_head.size());
}

std::vector<int64_t> LayerStats::first_top_dims(int k) const {
  std::vector<int64_t> idx(first_out_abs.size());
  std::iota(idx.begin(), idx.end(), 0);
  const size_t n = std::min<size_t>(static_cast<size_t>(std::max(k, 0)), idx.size());
  std::partial_sort(idx.begin(), idx.begin() + n, idx.end(),
                    [&](int64_t a, int64_t b) { return first_out_abs[a] > first_out_abs[b]; });
  idx.resize(n);
  return idx;
}

ActivationStatsAccumulator::ActivationStatsAccumulator(int num_layers, int64_t hidden, StatsOptions options)
    : hidden_(hidden), options_(options), layers_(static_cast<size_t>(num_layers)) {
  if (num_layers <= 0 || hidden <= 0)
    throw std::invalid_argument("ActivationStatsAccumulator: layers and hidden must be positive");
  if (options_.top_k <= 0) throw std::invalid_argument("ActivationStatsAccumulator: top_k must be positive");
  for (int l = 0; l < num_layers; ++l) {
    auto& s = layers_[l];
    s.layer = l;
    s.hidden = hidden;
    s.first_out_abs.assign(hidden, 0.0);
    s.first_in_abs.assign(hidden, 0.0);
    s.first_ffn_abs.assign(hidden, 0.0);
    s.rest_out_abs.assign(hidden, 0.0);
  }
}

void ActivationStatsAccumulator::observe(const LayerObservation& obs) {
  require(obs.layer >= 0 && obs.layer < static_cast<int>(layers_.size()), obs,
          "layer index out of range (model has " + std::to_string(layers_.size()) + " layers)");
  require(obs.hidden == hidden_, obs,
          "hidden size " + std::to_string(obs.hidden) + " != " + std::to_string(hidden_));
  const int64_t T = obs.tokens, d = hidden_;
  require(T > 0, obs, "no tokens");
  require_size(obs, "input", obs.input.size(), T * d);
  require_size(obs, "output", obs.output.size(), T * d);
  require_size(obs, "mlp_out", obs.mlp_out.size(), T * d);
  require_size(obs, "input_rstd", obs.input_rstd.size(), T);
  require_size(obs, "post_attn_rstd", obs.post_attn_rstd.size(), T);
  if (!obs.doc_start.empty()) require_size(obs, "doc_start", obs.doc_start.size(), T);
  if (!obs.token_ids.empty()) require_size(obs, "token_ids", obs.token_ids.size(), T);

  LayerStats& s = layers_[obs.layer];
  const auto doc_first = [&](int64_t t) -> int64_t { return obs.doc_start.empty() ? 0 : obs.doc_start[t]; };
  const int k = static_cast<int>(std::min<int64_t>(options_.top_k, d));
  std::vector<int64_t> order(d);
  std::vector<float> doc_abs;

  int64_t begin = 0;
  while (begin < T) {
    require(doc_first(begin) == begin, obs, "doc_start[" + std::to_string(begin) + "] does not start a document");
    int64_t end = begin + 1;
    while (end < T && doc_first(end) == begin) ++end;
    const int64_t document = s.documents++;
    doc_abs.clear();
    doc_abs.reserve(static_cast<size_t>((end - begin) * d));

    for (int64_t t = begin; t < end; ++t) {
      const float* out = obs.output.data() + t * d;
      const float* in = obs.input.data() + t * d;
      const float* ffn = obs.mlp_out.data() + t * d;
      const bool first = t == begin;
      if (!first) ++s.rest_tokens;
      // running means over documents (first token) or over the other tokens
      const double w = 1.0 / static_cast<double>(first ? s.documents : s.rest_tokens);

      std::vector<float> row_abs(d);
      double ffn_sq = 0.0, dot = 0.0, in_sq = 0.0, out_sq = 0.0;
      float ffn_max = 0.0f;
      for (int64_t j = 0; j < d; ++j) {
        row_abs[j] = std::fabs(out[j]);
        ffn_sq += double(ffn[j]) * ffn[j];
        ffn_max = std::max(ffn_max, std::fabs(ffn[j]));
        if (first) {
          dot += double(in[j]) * out[j];
          in_sq += double(in[j]) * in[j];
          out_sq += double(out[j]) * out[j];
          s.first_out_abs[j] += (row_abs[j] - s.first_out_abs[j]) * w;
          s.first_in_abs[j] += (std::fabs(in[j]) - s.first_in_abs[j]) * w;
          s.first_ffn_abs[j] += (std::fabs(ffn[j]) - s.first_ffn_abs[j]) * w;
        } else {
          s.rest_out_abs[j] += (row_abs[j] - s.rest_out_abs[j]) * w;
        }
      }
      doc_abs.insert(doc_abs.end(), row_abs.begin(), row_abs.end());

      TokenRecord rec;
      rec.document = document;
      rec.position = t - begin;
      rec.token_id = obs.token_ids.empty() ? -1 : obs.token_ids[t];
      rec.max_abs = *std::max_element(row_abs.begin(), row_abs.end());
      std::iota(order.begin(), order.end(), 0);
      std::partial_sort(order.begin(), order.begin() + k, order.end(),
                        [&](int64_t a, int64_t b) { return row_abs[a] > row_abs[b]; });
      rec.top.reserve(k);
      for (int i = 0; i < k; ++i) {
        const int64_t j = order[i];
        rec.top.push_back({j, out[j], in[j], ffn[j]});
      }
      std::vector<float> tmp = row_abs;
      rec.median_abs = median_of(tmp);
      rec.input_rstd = obs.input_rstd[t];
      rec.post_attn_rstd = obs.post_attn_rstd[t];
      rec.ffn_max_abs = ffn_max;
      rec.ffn_rms = static_cast<float>(std::sqrt(ffn_sq / static_cast<double>(d)));

      if (first) {
        const double denom = std::sqrt(in_sq) * std::sqrt(out_sq);
        s.first_cosine_sum += denom > 0 ? dot / denom : 0.0;
        s.first_input_rstd_sum += rec.input_rstd;
        s.first_post_attn_rstd_sum += rec.post_attn_rstd;
        s.first_ffn_rms_sum += rec.ffn_rms;
        s.first_ratio_sum += rec.max_median_ratio();
      } else {
        s.rest_input_rstd_sum += rec.input_rstd;
        s.rest_post_attn_rstd_sum += rec.post_attn_rstd;
        s.rest_ffn_rms_sum += rec.ffn_rms;
        s.rest_ratio_sum += rec.max_median_ratio();
        s.rest_ratio_max = std::max<double>(s.rest_ratio_max, rec.max_median_ratio());
      }
      if (options_.keep_token_records) s.records.push_back(std::move(rec));
    }
    s.document_median.push_back(median_of(doc_abs));
    s.tokens += end - begin;
    begin = end;
  }

  if (!obs.q.empty()) {
    const SinkMass mass = attention_sink_mass(obs);
    if (s.sink_mass_sum.empty()) s.sink_mass_sum.assign(mass.sum_per_head.size(), 0.0);
    require(s.sink_mass_sum.size() == mass.sum_per_head.size(), obs, "head count changed between forwards");
    for (size_t h = 0; h < mass.sum_per_head.size(); ++h) s.sink_mass_sum[h] += mass.sum_per_head[h];
    s.sink_queries += mass.queries;
  }
}

}  // namespace wm::analysis
