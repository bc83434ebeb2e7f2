// The ME-layer analysis on a tiny Qwen3 with a planted massive activation: the planted layer and
// dims are found, the report and figures show them; an unplanted model gives "not found".
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "model/analysis/me_probe.h"
#include "tests/model/analysis/planted_model.h"
#include "trainer/report/analysis_report.h"

namespace wm::analysis {
namespace {

namespace fs = std::filesystem;
using testing::PlantSpec;

std::string slurp(const fs::path& p) {
  std::stringstream ss;
  ss << std::ifstream(p).rdbuf();
  return ss.str();
}

std::unique_ptr<Qwen3Model> make_model(const PlantSpec& p) {
  ModelOptions opt;
  opt.max_tokens = 64;
  auto model = std::make_unique<Qwen3Model>(testing::planted_config(), opt);
  testing::init_planted(model->params(), model->config(), p);
  return model;
}

struct PlantedCase {
  int me_layer;
  std::vector<int64_t> dims;
  std::vector<float> values;
};

TEST(PlantedMe, FindsThePlantedLayerAndDimsAndDrawsThem) {
  const PlantedCase cases[] = {{2, {3, 17}, {1200.0f, -800.0f}}, {3, {40, 5}, {-2000.0f, 900.0f}}};
  for (const auto& c : cases) {
    PlantSpec p;
    p.me_layer = c.me_layer;
    p.dims = c.dims;
    p.values = c.values;
    auto model = make_model(p);
    const auto docs = testing::planted_documents(model->config(), p, 6, 12);
    const ProbeResult r = analyze_activations(*model, docs);
    ASSERT_TRUE(r.detection.found) << r.detection.reason;
    EXPECT_EQ(r.detection.me_layer, c.me_layer);
    EXPECT_EQ(r.detection.dims(), c.dims);  // largest |value| first
    EXPECT_EQ(r.detection.positions, (std::vector<int64_t>{0}));
    EXPECT_NEAR(r.detection.massive_dims[0].mean_abs, std::fabs(c.values[0]), 0.1 * std::fabs(c.values[0]));
    ASSERT_EQ(r.layers.size(), 5u);
    EXPECT_EQ(r.layers[0].documents, 6);
    for (const auto& s : r.layers) {
      EXPECT_GE(s.sink_ratio(), 0.0);
      EXPECT_LE(s.sink_ratio(), 1.0 + 1e-5);
    }
    // the first token is rigid after the ME layer, and its 1/rms collapses there
    EXPECT_GT(r.layers[c.me_layer + 1].first_cosine(), 0.99);
    EXPECT_LT(r.layers[c.me_layer].first_cosine(), 0.2);
    EXPECT_LT(r.layers[c.me_layer + 1].first_input_rstd(), 0.05 * r.layers[c.me_layer + 1].rest_input_rstd());

    const fs::path out = fs::temp_directory_path() / ("wemask_planted_" + std::to_string(::getpid()) + "_" +
                                                      std::to_string(c.me_layer));
    fs::remove_all(out);
    report::AnalysisReportInfo info{"planted", "test", "tokens", {}};
    const auto files = report::write_analysis_report(out.string(), model->config(), r, info);
    for (const char* name : {"report.json", "tokens.jsonl", "first_token_heatmap.svg", "first_token_top_dims.svg",
                             "max_magnitude.svg", "sink_ratio.svg", "first_token_rigidity.svg", "rms_scale.svg"})
      EXPECT_TRUE(fs::exists(out / name)) << name;
    const std::string layer = std::to_string(c.me_layer);
    const std::string heat = slurp(out / "first_token_heatmap.svg");
    EXPECT_NE(heat.find("class=\"highlight-row\">" + layer + "<"), std::string::npos);
    for (int64_t dim : c.dims)
      EXPECT_NE(heat.find("class=\"highlight-col\">" + std::to_string(dim) + "<"), std::string::npos) << dim;
    const std::string zoom = slurp(out / "first_token_top_dims.svg");
    for (int64_t dim : c.dims)
      EXPECT_NE(zoom.find("class=\"highlight-col\">" + std::to_string(dim) + "<"), std::string::npos) << dim;
    EXPECT_NE(slurp(out / "max_magnitude.svg").find(">ME layer " + layer + "<"), std::string::npos);
    EXPECT_NE(slurp(out / "sink_ratio.svg").find(">ME layer " + layer + "<"), std::string::npos);

    const auto report = nlohmann::json::parse(slurp(out / "report.json"));
    EXPECT_EQ(report["me_layer"], c.me_layer);
    EXPECT_EQ(report["massive_dims"][0]["dim"], c.dims[0]);
    EXPECT_EQ(report["massive_dims"][1]["dim"], c.dims[1]);
    EXPECT_EQ(report["layers"].size(), 5u);
    EXPECT_EQ(report["first_token_abs"][c.me_layer].size(), 64u);
    EXPECT_GT(report["first_token_abs"][c.me_layer][c.dims[0]].get<double>(), 100.0);
    // tokens.jsonl: one line per layer and document
    std::ifstream tokens(out / "tokens.jsonl");
    std::string line;
    int lines = 0;
    while (std::getline(tokens, line)) ++lines;
    EXPECT_EQ(lines, 5 * 6);
    fs::remove_all(out);
  }
}

TEST(PlantedMe, RandomModelHasNoMeLayer) {
  PlantSpec p;
  p.planted = false;
  auto model = make_model(p);
  const auto docs = testing::planted_documents(model->config(), p, 4, 10);
  const ProbeResult r = analyze_activations(*model, docs);
  EXPECT_FALSE(r.detection.found);
  EXPECT_EQ(r.detection.me_layer, -1);
  EXPECT_NE(r.detection.reason.find("no ME layer"), std::string::npos);
  EXPECT_THROW(detect_me_layer(*model, docs), std::runtime_error);

  const fs::path out = fs::temp_directory_path() / ("wemask_unplanted_" + std::to_string(::getpid()));
  report::write_analysis_report(out.string(), model->config(), r, {"random", "test", "tokens", {}});
  const auto report = nlohmann::json::parse(slurp(out / "report.json"));
  EXPECT_FALSE(report["found"].get<bool>());
  EXPECT_TRUE(report["me_layer"].is_null());
  EXPECT_EQ(slurp(out / "max_magnitude.svg").find("ME layer"), std::string::npos);
  fs::remove_all(out);
}

TEST(PlantedMe, AutoHelperAndBadDocuments) {
  PlantSpec p;
  auto model = make_model(p);
  const auto docs = testing::planted_documents(model->config(), p, 4, 10);
  EXPECT_EQ(detect_me_layer(*model, docs).me_layer, 2);
  EXPECT_THROW(analyze_activations(*model, {{7}}), std::invalid_argument);
  EXPECT_THROW(analyze_activations(*model, {{7, 500}}), std::invalid_argument);
  EXPECT_THROW(analyze_activations(*model, {std::vector<int32_t>(100, 9)}), std::invalid_argument);
  EXPECT_THROW(analyze_activations(*model, {}), std::invalid_argument);
}

}  // namespace
}  // namespace wm::analysis
