#include "model/analysis/layer_stats.h"

#include <cmath>

#include <gtest/gtest.h>

#include "tests/model/analysis/synthetic_stream.h"

namespace wm::analysis {
namespace {

// Two documents packed into one forward of a 2-layer, 4-dim model with hand-made values.
TEST(ActivationStats, PackedDocumentsGiveFirstTokenAndRestStats) {
  ActivationStatsAccumulator acc(2, 4, StatsOptions{2, true});
  // doc 0 = rows 0..2, doc 1 = rows 3..4
  const std::vector<int32_t> doc_start = {0, 0, 0, 3, 3};
  const std::vector<int32_t> ids = {10, 11, 12, 20, 21};
  std::vector<float> in = {1, 0, 0, 0,   1, 1, 1, 1,   2, 2, 2, 2,   0, 2, 0, 0,   1, 1, 1, 1};
  std::vector<float> ffn(20, 0.0f);
  ffn[1] = 9.0f;  // doc 0 first token, dim 1
  std::vector<float> out = in;
  for (size_t i = 0; i < out.size(); ++i) out[i] += ffn[i];
  std::vector<float> rstd_in = {1, 2, 3, 4, 5}, rstd_post = {0.5f, 1, 1, 1.5f, 1};
  LayerObservation obs;
  obs.layer = 1;
  obs.tokens = 5;
  obs.hidden = 4;
  obs.input = in;
  obs.output = out;
  obs.mlp_out = ffn;
  obs.input_rstd = rstd_in;
  obs.post_attn_rstd = rstd_post;
  obs.doc_start = doc_start;
  obs.token_ids = ids;
  acc.observe(obs);

  const LayerStats& s = acc.layers()[1];
  EXPECT_EQ(s.documents, 2);
  EXPECT_EQ(s.tokens, 5);
  EXPECT_EQ(s.rest_tokens, 3);
  // first tokens: doc0 out = [1, 9, 0, 0], doc1 out = [0, 2, 0, 0]
  EXPECT_DOUBLE_EQ(s.first_out_abs[0], 0.5);
  EXPECT_DOUBLE_EQ(s.first_out_abs[1], 5.5);
  EXPECT_DOUBLE_EQ(s.first_in_abs[1], 1.0);
  EXPECT_DOUBLE_EQ(s.first_ffn_abs[1], 4.5);
  EXPECT_DOUBLE_EQ(s.rest_out_abs[0], (1 + 2 + 1) / 3.0);
  EXPECT_EQ(s.first_top_dims(1), (std::vector<int64_t>{1}));
  // cos: doc0 in [1,0,0,0] vs out [1,9,0,0] -> 1/sqrt(82); doc1 identical rows -> 1
  EXPECT_NEAR(s.first_cosine(), 0.5 * (1.0 / std::sqrt(82.0) + 1.0), 1e-6);
  EXPECT_DOUBLE_EQ(s.first_input_rstd(), 2.5);
  EXPECT_DOUBLE_EQ(s.rest_input_rstd(), (2 + 3 + 5) / 3.0);
  EXPECT_DOUBLE_EQ(s.first_post_attn_rstd(), 1.0);
  // document medians of |out|: doc0 values {1,9,0,0,1,1,1,1,2,2,2,2} -> 1; doc1 {0,2,0,0,1,1,1,1} -> 1
  ASSERT_EQ(s.document_median.size(), 2u);
  EXPECT_FLOAT_EQ(s.document_median[0], 1.0f);
  EXPECT_FLOAT_EQ(s.document_median[1], 1.0f);
  ASSERT_EQ(s.records.size(), 5u);
  const TokenRecord& r0 = s.records[0];
  EXPECT_EQ(r0.document, 0);
  EXPECT_EQ(r0.position, 0);
  EXPECT_EQ(r0.token_id, 10);
  EXPECT_FLOAT_EQ(r0.max_abs, 9.0f);
  EXPECT_FLOAT_EQ(r0.median_abs, 0.5f);
  EXPECT_FLOAT_EQ(r0.max_median_ratio(), 18.0f);
  ASSERT_EQ(r0.top.size(), 2u);
  EXPECT_EQ(r0.top[0].dim, 1);
  EXPECT_FLOAT_EQ(r0.top[0].out, 9.0f);  // input 0 + ffn 9
  EXPECT_FLOAT_EQ(r0.top[0].ffn, 9.0f);
  EXPECT_FLOAT_EQ(r0.ffn_max_abs, 9.0f);
  EXPECT_FLOAT_EQ(r0.ffn_rms, 4.5f);
  EXPECT_EQ(s.records[3].document, 1);
  EXPECT_EQ(s.records[3].position, 0);
  EXPECT_EQ(s.records[4].position, 1);
  EXPECT_TRUE(std::isnan(s.sink_ratio()));
  EXPECT_EQ(acc.layers()[0].documents, 0);
}

TEST(ActivationStats, RejectsMismatchedSizesNamingLayerAndTensor) {
  ActivationStatsAccumulator acc(3, 4);
  std::vector<float> a(8), r(2);
  std::vector<float> short_out(7);
  LayerObservation obs;
  obs.layer = 2;
  obs.tokens = 2;
  obs.hidden = 4;
  obs.input = a;
  obs.output = short_out;
  obs.mlp_out = a;
  obs.input_rstd = r;
  obs.post_attn_rstd = r;
  try {
    acc.observe(obs);
    FAIL() << "expected a throw";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("layer 2"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("output"), std::string::npos) << e.what();
  }
  obs.output = a;
  obs.layer = 3;
  EXPECT_THROW(acc.observe(obs), std::invalid_argument);
  obs.layer = 0;
  const std::vector<int32_t> bad_docs = {1, 1};
  obs.doc_start = bad_docs;
  EXPECT_THROW(acc.observe(obs), std::invalid_argument);
}

TEST(ActivationStats, MeansOverManyDocuments) {
  testing::SyntheticStream s;
  s.plants = {{1, 0, 2, 100.0f}};
  const auto stats = s.stats();
  EXPECT_EQ(stats[0].documents, 4);
  EXPECT_NEAR(stats[1].first_ffn_abs[2], 100.0, 0.2);
  EXPECT_NEAR(stats[3].first_out_abs[2], 100.0, 2.0);
  EXPECT_GT(stats[1].first_max_median_ratio(), 50.0);
  EXPECT_LT(stats[0].first_max_median_ratio(), 10.0);
  EXPECT_LT(stats[1].first_cosine(), 0.3);   // the stream changed direction at layer 1
  EXPECT_GT(stats[2].first_cosine(), 0.99);  // and stays rigid afterwards
}

}  // namespace
}  // namespace wm::analysis
