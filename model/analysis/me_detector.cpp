#include "model/analysis/me_detector.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <set>
#include <stdexcept>

#include <fmt/format.h>

namespace wm::analysis {
namespace {

struct Ratios {
  double to_median, growth, ffn_share;
};

Ratios ratios_of(const TokenPeak& p, double median) {
  const double out = std::fabs(p.out);
  const double in = std::fabs(p.in);
  return {median > 0 ? out / median : (out > 0 ? INFINITY : 0.0),
          in > 0 ? out / in : (out > 0 ? INFINITY : 0.0),
          out > 0 ? std::fabs(p.ffn) / out : 0.0};
}

bool passes(const Ratios& r, const MeDetectorOptions& o) {
  return r.to_median >= o.min_ratio_to_median && r.growth >= o.min_growth_over_input &&
         r.ffn_share >= o.min_ffn_share;
}

}  // namespace

std::vector<int64_t> MeDetection::dims() const {
  std::vector<int64_t> d;
  for (const auto& m : massive_dims) d.push_back(m.dim);
  return d;
}

void validate(const MeDetectorOptions& o) {
  auto bad = [](const char* key, double v) {
    throw std::invalid_argument(fmt::format("ME detector option {} = {} is out of range", key, v));
  };
  if (!(o.min_ratio_to_median > 0)) bad("min_ratio_to_median", o.min_ratio_to_median);
  if (!(o.min_growth_over_input >= 0)) bad("min_growth_over_input", o.min_growth_over_input);
  if (!(o.min_ffn_share >= 0 && o.min_ffn_share <= 1)) bad("min_ffn_share", o.min_ffn_share);
  if (!(o.min_document_fraction > 0 && o.min_document_fraction <= 1))
    bad("min_document_fraction", o.min_document_fraction);
  if (!(o.min_dim_support > 0 && o.min_dim_support <= 1)) bad("min_dim_support", o.min_dim_support);
  if (o.max_massive_dims <= 0) bad("max_massive_dims", o.max_massive_dims);
}

MeDetection detect_me_layer(std::span<const LayerStats> layers, const MeDetectorOptions& o) {
  validate(o);
  MeDetection result;
  for (const LayerStats& s : layers) {
    if (s.documents > 0 && s.records.empty())
      throw std::invalid_argument(fmt::format(
          "ME detector: layer {} has no token records (accumulate with keep_token_records)", s.layer));
    if (s.document_median.size() != static_cast<size_t>(s.documents))
      throw std::invalid_argument(fmt::format("ME detector: layer {} has {} document medians for {} documents",
                                              s.layer, s.document_median.size(), s.documents));

    MeLayerDiagnostics diag;
    diag.layer = s.layer;
    diag.documents = s.documents;
    std::set<int64_t> qualifying_docs;
    std::vector<const TokenRecord*> qualifying;
    for (const TokenRecord& rec : s.records) {
      if (rec.top.empty()) continue;
      if (o.first_token_only && rec.position != 0) continue;
      const double median = s.document_median.at(rec.document);
      const Ratios r = ratios_of(rec.top.front(), median);
      if (r.to_median > diag.best_ratio_to_median) {
        diag.best_ratio_to_median = r.to_median;
        diag.best_growth = r.growth;
        diag.best_ffn_share = r.ffn_share;
        diag.best_dim = rec.top.front().dim;
        diag.best_position = rec.position;
      }
      if (passes(r, o)) {
        qualifying_docs.insert(rec.document);
        qualifying.push_back(&rec);
      }
    }
    diag.qualifying_documents = static_cast<int64_t>(qualifying_docs.size());
    result.per_layer.push_back(diag);

    const bool enough = s.documents > 0 && static_cast<double>(diag.qualifying_documents) >=
                                               o.min_document_fraction * static_cast<double>(s.documents);
    if (result.found || !enough) continue;

    result.found = true;
    result.me_layer = s.layer;
    std::map<int64_t, std::pair<double, int64_t>> by_dim;  // dim -> (sum |out|, support)
    std::set<int64_t> positions;
    for (const TokenRecord* rec : qualifying) {
      positions.insert(rec->position);
      const double median = s.document_median.at(rec->document);
      for (const TokenPeak& p : rec->top) {
        if (!passes(ratios_of(p, median), o)) continue;
        auto& [sum, support] = by_dim[p.dim];
        sum += std::fabs(p.out);
        ++support;
      }
    }
    const double needed = o.min_dim_support * static_cast<double>(qualifying.size());
    for (const auto& [dim, agg] : by_dim)
      if (static_cast<double>(agg.second) >= needed)
        result.massive_dims.push_back({dim, agg.first / static_cast<double>(agg.second), agg.second});
    std::sort(result.massive_dims.begin(), result.massive_dims.end(),
              [](const MassiveDim& a, const MassiveDim& b) { return a.mean_abs > b.mean_abs; });
    if (static_cast<int>(result.massive_dims.size()) > o.max_massive_dims)
      result.massive_dims.resize(o.max_massive_dims);
    result.positions.assign(positions.begin(), positions.end());
  }

  if (result.found) {
    std::string dims;
    for (const auto& m : result.massive_dims) dims += (dims.empty() ? "" : ", ") + std::to_string(m.dim);
    const auto& d = *std::find_if(result.per_layer.begin(), result.per_layer.end(),
                                  [&](const auto& x) { return x.layer == result.me_layer; });
    result.reason = fmt::format(
        "layer {}: in {}/{} documents a token's top dim reached >= {}x the layer median, >= {}x its input, "
        "written by the FFN; massive dims [{}]",
        result.me_layer, d.qualifying_documents, d.documents, o.min_ratio_to_median, o.min_growth_over_input, dims);
  } else if (result.per_layer.empty()) {
    result.reason = "no layers were observed";
  } else {
    const auto best = std::max_element(result.per_layer.begin(), result.per_layer.end(),
                                       [](const auto& a, const auto& b) {
                                         return a.best_ratio_to_median < b.best_ratio_to_median;
                                       });
    result.reason = fmt::format(
        "no ME layer: no layer had a qualifying token in >= {:.0f}% of documents (rule: top dim >= {}x median, "
        ">= {}x input, FFN share >= {}); strongest was layer {} dim {} at {:.1f}x median, {:.1f}x input, "
        "FFN share {:.2f}",
        100 * o.min_document_fraction, o.min_ratio_to_median, o.min_growth_over_input, o.min_ffn_share,
        best->layer, best->best_dim, best->best_ratio_to_median, best->best_growth, best->best_ffn_share);
  }
  return result;
}

}  // namespace wm::analysis
