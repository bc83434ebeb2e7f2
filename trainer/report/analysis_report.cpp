#include "trainer/report/analysis_report.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <limits>
#include <map>
#include <set>
#include <stdexcept>

#include <nlohmann/json.hpp>

#include "trainer/report/heatmap_svg.h"
#include "trainer/report/line_chart_svg.h"
#include "trainer/report/svg.h"

namespace wm::report {
namespace {

using nlohmann::json;
using analysis::LayerStats;

json finite_or_null(double v) { return std::isfinite(v) ? json(v) : json(nullptr); }

void write_text(const std::string& path, const std::string& text) {
  std::ofstream out(path);
  if (!out) throw std::runtime_error("cannot open " + path + " for writing");
  out << text;
  out.close();
  if (!out) throw std::runtime_error("error writing " + path);
}

// max |output| over the non-first tokens of a layer (from the token records)
double rest_max_abs(const LayerStats& s) {
  double m = std::numeric_limits<double>::quiet_NaN();
  for (const auto& r : s.records)
    if (r.position != 0) m = std::isnan(m) ? r.max_abs : std::max<double>(m, r.max_abs);
  return m;
}

json layer_json(const LayerStats& s, const analysis::MeLayerDiagnostics* diag) {
  json first_top = json::array();
  for (int64_t d : s.first_top_dims(8)) first_top.push_back({{"dim", d}, {"mean_abs", s.first_out_abs[d]}});
  json j = {
      {"layer", s.layer},
      {"documents", s.documents},
      {"tokens", s.tokens},
      {"median_abs", s.median_abs()},
      {"first_token",
       {{"max_abs", s.first_max_abs()},
        {"max_median_ratio", s.first_max_median_ratio()},
        {"top_dims", first_top},
        {"input_rstd", s.first_input_rstd()},
        {"post_attn_rstd", s.first_post_attn_rstd()},
        {"ffn_rms", s.first_ffn_rms()},
        {"ffn_max_abs", s.first_ffn_abs.empty() ? 0.0 : *std::max_element(s.first_ffn_abs.begin(), s.first_ffn_abs.end())},
        {"cosine_to_previous_layer", s.first_cosine()}}},
      {"other_tokens",
       {{"count", s.rest_tokens},
        {"max_abs", finite_or_null(rest_max_abs(s))},
        {"max_median_ratio_mean", s.rest_max_median_ratio()},
        {"max_median_ratio_max", s.rest_ratio_max},
        {"input_rstd", s.rest_input_rstd()},
        {"post_attn_rstd", s.rest_post_attn_rstd()},
        {"ffn_rms", s.rest_ffn_rms()}}},
      {"sink_ratio", finite_or_null(s.sink_ratio())},
      {"sink_ratio_per_head", s.sink_ratio_per_head()},
  };
  if (diag)
    j["detector"] = {{"qualifying_documents", diag->qualifying_documents},
                     {"best_ratio_to_median", finite_or_null(diag->best_ratio_to_median)},
                     {"best_growth_over_input", finite_or_null(diag->best_growth)},
                     {"best_ffn_share", diag->best_ffn_share},
                     {"best_dim", diag->best_dim},
                     {"best_position", diag->best_position}};
  return j;
}

std::vector<double> per_layer(const std::vector<LayerStats>& layers, double (*f)(const LayerStats&)) {
  std::vector<double> v;
  for (const auto& s : layers) v.push_back(f(s));
  return v;
}

}  // namespace

std::vector<std::string> write_analysis_report(const std::string& out_dir, const Qwen3Config& cfg,
                                               const analysis::ProbeResult& result,
                                               const AnalysisReportInfo& info) {
  namespace fs = std::filesystem;
  std::error_code ec;
  fs::create_directories(out_dir, ec);
  if (ec) throw std::runtime_error("cannot create output folder " + out_dir + ": " + ec.message());
  const auto& layers = result.layers;
  const auto& det = result.detection;
  const int64_t L = static_cast<int64_t>(layers.size()), d = cfg.hidden_size;
  if (L == 0) throw std::invalid_argument("analysis report: no layers");
  std::vector<std::string> written;
  auto path = [&](const std::string& name) { return (fs::path(out_dir) / name).string(); };
  std::vector<double> xs(L);
  for (int64_t l = 0; l < L; ++l) xs[l] = static_cast<double>(l);
  std::vector<XMarker> me_marker;
  if (det.found) me_marker.push_back({static_cast<double>(det.me_layer), "ME layer " + std::to_string(det.me_layer)});
  std::string dims_text;
  for (int64_t dim : det.dims()) dims_text += (dims_text.empty() ? "" : ", ") + std::to_string(dim);

  // ---- report.json
  json report;
  report["model"] = {{"source", info.model},
                     {"layers", cfg.num_hidden_layers},
                     {"hidden_size", cfg.hidden_size},
                     {"attention_heads", cfg.num_attention_heads},
                     {"kv_heads", cfg.num_key_value_heads}};
  report["calibration"] = {{"source", info.prompts}, {"format", info.prompt_format},
                           {"documents", layers[0].documents}, {"tokens", layers[0].tokens}};
  const auto& o = info.detector;
  report["detector"] = {
      {"rule",
       "ME layer = first layer where, in >= min_document_fraction of documents, a token's largest output dim j has "
       "|out_j| >= min_ratio_to_median * (median |out| of the document at that layer), |out_j| >= "
       "min_growth_over_input * |in_j| and |ffn_j| >= min_ffn_share * |out_j|; massive dims = top-k dims of the "
       "qualifying tokens meeting the same test in >= min_dim_support of them"},
      {"min_ratio_to_median", o.min_ratio_to_median},
      {"min_growth_over_input", o.min_growth_over_input},
      {"min_ffn_share", o.min_ffn_share},
      {"min_document_fraction", o.min_document_fraction},
      {"min_dim_support", o.min_dim_support},
      {"max_massive_dims", o.max_massive_dims},
      {"first_token_only", o.first_token_only}};
  report["found"] = det.found;
  report["me_layer"] = det.found ? json(det.me_layer) : json(nullptr);
  report["reason"] = det.reason;
  json md = json::array();
  for (const auto& m : det.massive_dims) md.push_back({{"dim", m.dim}, {"mean_abs", m.mean_abs}, {"support", m.support}});
  report["massive_dims"] = md;
  report["massive_positions"] = det.positions;
  json lj = json::array(), first_abs = json::array(), rest_abs = json::array();
  for (int64_t l = 0; l < L; ++l) {
    const analysis::MeLayerDiagnostics* diag = nullptr;
    for (const auto& x : det.per_layer)
      if (x.layer == layers[l].layer) diag = &x;
    lj.push_back(layer_json(layers[l], diag));
    first_abs.push_back(layers[l].first_out_abs);
    rest_abs.push_back(layers[l].rest_out_abs);
  }
  report["layers"] = lj;
  report["first_token_abs"] = first_abs;   // [layers][hidden] mean |h| of the first token
  report["other_tokens_abs"] = rest_abs;   // [layers][hidden] mean |h| of the other tokens

  // ---- figures
  std::vector<std::string> layer_names;
  for (int64_t l = 0; l < L; ++l) layer_names.push_back(std::to_string(layers[l].layer));
  HeatmapSpec heat;
  heat.title = "First-token |hidden state| per layer" + (det.found ? " (ME layer " + std::to_string(det.me_layer) + ", massive dims " + dims_text + ")" : std::string(" (no ME layer found)"));
  heat.x_label = "hidden dimension";
  heat.y_label = "layer (output)";
  heat.value_label = "mean |h|";
  heat.rows = L;
  heat.cols = d;
  heat.row_names = layer_names;
  heat.log_scale = true;
  for (const auto& s : layers) heat.values.insert(heat.values.end(), s.first_out_abs.begin(), s.first_out_abs.end());
  if (det.found) heat.highlight_rows = {det.me_layer};
  heat.highlight_cols = det.dims();
  write_text(path("first_token_heatmap.svg"), heatmap_svg(heat));
  written.push_back(path("first_token_heatmap.svg"));

  // zoom: massive dims plus the largest first-token dims at the last layer
  std::set<int64_t> zoom(heat.highlight_cols.begin(), heat.highlight_cols.end());
  for (int64_t dim : layers.back().first_top_dims(16)) {
    if (zoom.size() >= 24) break;
    zoom.insert(dim);
  }
  HeatmapSpec top = heat;
  top.title = "First-token |hidden state|: massive and largest dims";
  top.cols = static_cast<int64_t>(zoom.size());
  top.values.clear();
  top.col_names.clear();
  top.highlight_cols.clear();
  std::vector<int64_t> zoom_dims(zoom.begin(), zoom.end());
  for (const auto& s : layers)
    for (int64_t dim : zoom_dims) top.values.push_back(s.first_out_abs[dim]);
  for (size_t i = 0; i < zoom_dims.size(); ++i) {
    top.col_names.push_back(std::to_string(zoom_dims[i]));
    if (std::count(heat.highlight_cols.begin(), heat.highlight_cols.end(), zoom_dims[i])) top.highlight_cols.push_back(i);
  }
  write_text(path("first_token_top_dims.svg"), heatmap_svg(top));
  written.push_back(path("first_token_top_dims.svg"));

  LineChartSpec mag;
  mag.title = "Largest |hidden state| per layer";
  mag.x_label = "layer";
  mag.integer_x = true;
  mag.y_label = "|h|";
  mag.log_y = true;
  mag.markers = me_marker;
  std::vector<double> rest_max;
  for (const auto& s : layers) rest_max.push_back(rest_max_abs(s));
  mag.series = {{"first token (max dim)", xs, per_layer(layers, [](const LayerStats& s) { return s.first_max_abs(); }), ""},
                {"other tokens (max)", xs, rest_max, ""},
                {"median |h|", xs, per_layer(layers, [](const LayerStats& s) { return s.median_abs(); }), ""}};
  write_text(path("max_magnitude.svg"), line_chart_svg(mag));
  written.push_back(path("max_magnitude.svg"));

  if (!layers[0].sink_mass_sum.empty() && layers[0].sink_queries > 0) {
    LineChartSpec sink;
    sink.title = "Attention mass on the first token";
    sink.x_label = "layer";
  sink.integer_x = true;
    sink.y_label = "sink ratio";
    sink.markers = me_marker;
    std::vector<double> lo, hi;
    for (const auto& s : layers) {
      const auto h = s.sink_ratio_per_head();
      lo.push_back(h.empty() ? NAN : *std::min_element(h.begin(), h.end()));
      hi.push_back(h.empty() ? NAN : *std::max_element(h.begin(), h.end()));
    }
    sink.series = {{"mean over heads", xs, per_layer(layers, [](const LayerStats& s) { return s.sink_ratio(); }), ""},
                   {"least-sinking head", xs, lo, ""},
                   {"most-sinking head", xs, hi, ""}};
    write_text(path("sink_ratio.svg"), line_chart_svg(sink));
    written.push_back(path("sink_ratio.svg"));
  }

  LineChartSpec rigid;
  rigid.title = "First-token rigidity: cos(h_l, h_(l-1))";
  rigid.x_label = "layer";
  rigid.integer_x = true;
  rigid.y_label = "cosine";
  rigid.markers = me_marker;
  rigid.series = {{"first token", xs, per_layer(layers, [](const LayerStats& s) { return s.first_cosine(); }), ""}};
  write_text(path("first_token_rigidity.svg"), line_chart_svg(rigid));
  written.push_back(path("first_token_rigidity.svg"));

  LineChartSpec rms;
  rms.title = "RMSNorm scale 1/rms at the input norm";
  rms.x_label = "layer";
  rms.integer_x = true;
  rms.y_label = "1/rms";
  rms.log_y = true;
  rms.markers = me_marker;
  rms.series = {{"first token", xs, per_layer(layers, [](const LayerStats& s) { return s.first_input_rstd(); }), ""},
                {"other tokens", xs, per_layer(layers, [](const LayerStats& s) { return s.rest_input_rstd(); }), ""}};
  write_text(path("rms_scale.svg"), line_chart_svg(rms));
  written.push_back(path("rms_scale.svg"));

  // ---- tokens.jsonl: one line per (layer, document)
  {
    const std::string tp = path("tokens.jsonl");
    std::ofstream out(tp);
    if (!out) throw std::runtime_error("cannot open " + tp + " for writing");
    for (const auto& s : layers) {
      std::map<int64_t, json> docs;
      for (const auto& r : s.records) {
        json& j = docs[r.document];
        if (j.is_null()) j = {{"layer", s.layer}, {"document", r.document}, {"median_abs_layer", s.document_median.at(r.document)}};
        j["token_ids"].push_back(r.token_id);
        j["max_abs"].push_back(r.max_abs);
        j["median_abs"].push_back(r.median_abs);
        j["max_median_ratio"].push_back(r.max_median_ratio());
        j["input_rstd"].push_back(r.input_rstd);
        j["post_attn_rstd"].push_back(r.post_attn_rstd);
        j["ffn_rms"].push_back(r.ffn_rms);
        json top = json::array();
        for (const auto& p : r.top) top.push_back({p.dim, p.out});
        j["top"].push_back(top);
      }
      for (const auto& [doc, j] : docs) out << j.dump() << '\n';
    }
    out.close();
    if (!out) throw std::runtime_error("error writing " + tp);
    written.push_back(tp);
  }

  json figures = json::array();
  for (const auto& w : written) figures.push_back(fs::path(w).filename().string());
  report["files"] = figures;
  write_text(path("report.json"), report.dump(1) + "\n");
  written.push_back(path("report.json"));
  return written;
}

}  // namespace wm::report
