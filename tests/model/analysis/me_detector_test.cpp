#include "model/analysis/me_detector.h"

#include <gtest/gtest.h>

#include "tests/model/analysis/synthetic_stream.h"

namespace wm::analysis {
namespace {

using testing::Plant;
using testing::SyntheticStream;

TEST(MeDetector, FindsThePlantedLayerAndDimsLargestFirst) {
  SyntheticStream s;
  s.plants = {{3, 0, 17, -300.0f}, {3, 0, 4, 800.0f}};
  const auto stats = s.stats();
  const MeDetection det = detect_me_layer(stats);
  ASSERT_TRUE(det.found) << det.reason;
  EXPECT_EQ(det.me_layer, 3);
  EXPECT_EQ(det.dims(), (std::vector<int64_t>{4, 17}));
  EXPECT_NEAR(det.massive_dims[0].mean_abs, 800.0, 5.0);
  EXPECT_EQ(det.positions, (std::vector<int64_t>{0}));
  EXPECT_NE(det.reason.find("layer 3"), std::string::npos);
  // Later layers carry the value but did not create it.
  EXPECT_EQ(det.per_layer[4].qualifying_documents, 0);
  EXPECT_GT(det.per_layer[4].best_ratio_to_median, 100.0);
  EXPECT_LT(det.per_layer[4].best_growth, 2.0);
}

TEST(MeDetector, NoMassiveActivationIsAClearNotFound) {
  SyntheticStream s;
  const auto stats = s.stats();
  const MeDetection det = detect_me_layer(stats);
  EXPECT_FALSE(det.found);
  EXPECT_EQ(det.me_layer, -1);
  EXPECT_TRUE(det.massive_dims.empty());
  EXPECT_NE(det.reason.find("no ME layer"), std::string::npos) << det.reason;
  EXPECT_EQ(det.per_layer.size(), 6u);
}

TEST(MeDetector, ValueBelowTheMedianRatioIsNotMassive) {
  SyntheticStream s;
  s.plants = {{2, 0, 9, 20.0f}};  // ~40x the median of |U(-1,1)|, below 100x
  EXPECT_FALSE(detect_me_layer(s.stats()).found);
  MeDetectorOptions loose;
  loose.min_ratio_to_median = 20.0;
  const auto det = detect_me_layer(s.stats(), loose);
  ASSERT_TRUE(det.found) << det.reason;
  EXPECT_EQ(det.me_layer, 2);
  EXPECT_EQ(det.dims(), (std::vector<int64_t>{9}));
}

TEST(MeDetector, AttentionWrittenValueIsNotAnFfnEmergence) {
  SyntheticStream s;
  s.plants = {{1, 0, 3, 500.0f, /*via_attention=*/true}, {4, 0, 8, 5000.0f}};
  const auto det = detect_me_layer(s.stats());
  ASSERT_TRUE(det.found) << det.reason;
  EXPECT_EQ(det.me_layer, 4);
  EXPECT_EQ(det.dims(), (std::vector<int64_t>{8}));
  MeDetectorOptions any_writer;
  any_writer.min_ffn_share = 0.0;
  EXPECT_EQ(detect_me_layer(s.stats(), any_writer).me_layer, 1);
}

TEST(MeDetector, ValuePresentInTheEmbeddingDidNotEmerge) {
  SyntheticStream s;
  s.embed_value_at_dim = 400.0f;
  s.plants = {{2, 0, 5, 50.0f}};  // grows it a little, not 10x
  EXPECT_FALSE(detect_me_layer(s.stats()).found);
}

TEST(MeDetector, NeedsEnoughDocuments) {
  SyntheticStream s;
  s.documents = 4;
  Plant p{2, 0, 11, 600.0f};
  p.documents = 1;
  s.plants = {p};
  EXPECT_FALSE(detect_me_layer(s.stats()).found);
  MeDetectorOptions few;
  few.min_document_fraction = 0.25;
  EXPECT_EQ(detect_me_layer(s.stats(), few).me_layer, 2);
}

TEST(MeDetector, NonFirstTokensCountUnlessFirstTokenOnly) {
  SyntheticStream s;
  s.plants = {{1, 2, 6, 700.0f}, {3, 0, 4, 900.0f}};
  const auto det = detect_me_layer(s.stats());
  EXPECT_EQ(det.me_layer, 1);
  EXPECT_EQ(det.positions, (std::vector<int64_t>{2}));
  MeDetectorOptions first_only;
  first_only.first_token_only = true;
  EXPECT_EQ(detect_me_layer(s.stats(), first_only).me_layer, 3);
}

TEST(MeDetector, CapsTheNumberOfDims) {
  SyntheticStream s;
  for (int64_t dim = 0; dim < 6; ++dim) s.plants.push_back({2, 0, dim, 1000.0f + 100.0f * dim});
  MeDetectorOptions two;
  two.max_massive_dims = 2;
  EXPECT_EQ(detect_me_layer(s.stats(), two).dims(), (std::vector<int64_t>{5, 4}));
}

TEST(MeDetector, RejectsBadOptionsAndStatsWithoutRecords) {
  SyntheticStream s;
  MeDetectorOptions bad;
  bad.min_document_fraction = 0.0;
  EXPECT_THROW(detect_me_layer(s.stats(), bad), std::invalid_argument);
  ActivationStatsAccumulator acc(s.layers, s.hidden, StatsOptions{8, false});
  s.feed(acc);
  EXPECT_THROW(detect_me_layer(acc.layers()), std::invalid_argument);
}

}  // namespace
}  // namespace wm::analysis
