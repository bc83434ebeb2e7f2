#include <gtest/gtest.h>

#include "model/batch.h"
#include "model/param_store.h"
#include "model/wemask.h"
#include "tests/model/model_test_util.h"

namespace wm::test {
namespace {

TEST(Batch, PackDocumentsLaysOutPositionsDocStartsAndPadding) {
  const HostBatch b = pack_documents({{{5, 6, 7}, {8, 9}}, {{1, 2, 3, 4}}}, 6, /*pad_id=*/0);
  EXPECT_EQ(b.tokens, (std::vector<int32_t>{5, 6, 7, 8, 9, 0, 1, 2, 3, 4, 0, 0}));
  EXPECT_EQ(b.targets, (std::vector<int32_t>{6, 7, -100, 9, -100, -100, 2, 3, 4, -100, -100, -100}));
  EXPECT_EQ(b.positions, (std::vector<int32_t>{0, 1, 2, 0, 1, 0, 0, 1, 2, 3, 0, 0}));
  EXPECT_EQ(b.doc_start, (std::vector<int32_t>{0, 0, 0, 3, 3, 5, 6, 6, 6, 6, 10, 11}));
  EXPECT_EQ(b.sink_rows(), (std::vector<int32_t>{0, 3, 6}));
  EXPECT_EQ(b.num_loss_tokens(), 6);
  EXPECT_FLOAT_EQ(b.loss_weight[0], 1.0f / 6);
  EXPECT_EQ(b.loss_weight[2], 0.0f);
}

TEST(Batch, ValidateNamesTheProblem) {
  HostBatch b = pack_documents({{{5, 6, 7}}}, 4);
  b.doc_start[2] = 3;
  try {
    b.validate();
    FAIL();
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("token 2"), std::string::npos) << e.what();
  }
  HostBatch c = pack_documents({{{5, 99}}}, 2);
  EXPECT_THROW(c.validate(64), std::invalid_argument);
  EXPECT_THROW(pack_documents({{{1, 2, 3}}}, 2), std::invalid_argument);
}

// The attention ops learn from the batch whether every row is one whole document (the layout
// cuDNN's fused attention takes); several documents or padding in a row is not.
TEST(Batch, AttnDocsKnowsWholeRowDocuments) {
  const AttnDocs whole = Batch(pack_documents({{{5, 6, 7}}, {{1, 2, 3}}}, 3), Device::CPU).attn_docs();
  EXPECT_TRUE(whole.whole_rows);
  EXPECT_EQ(whole.rows, 2);
  EXPECT_EQ(whole.seq, 3);
  EXPECT_FALSE(Batch(pack_documents({{{5, 6}, {7}}, {{1, 2, 3}}}, 3), Device::CPU).attn_docs().whole_rows);
  EXPECT_FALSE(Batch(pack_documents({{{5, 6, 7}}, {{1, 2}}}, 3), Device::CPU).attn_docs().whole_rows);  // padding
  // The document list leaves out one-token documents (they attend only to themselves, as padding).
  const Batch packed_batch(pack_documents({{{5, 6}, {7}}, {{1, 2, 3}}}, 3), Device::CPU);  // owns doc_begin/end
  const AttnDocs packed = packed_batch.attn_docs();
  EXPECT_EQ(packed.num_docs, 2);
  EXPECT_EQ(packed.max_doc_len, 3);
  EXPECT_EQ(std::vector<int32_t>(packed.doc_begin, packed.doc_begin + 2), (std::vector<int32_t>{0, 3}));
  EXPECT_EQ(std::vector<int32_t>(packed.doc_end, packed.doc_end + 2), (std::vector<int32_t>{2, 6}));
}

TEST(ParamStore, FlatLayoutKeepsFusedGroupsAdjacentAndAligned) {
  ParamStore store(tiny_config(false), DType::F32, Device::CPU);
  const auto& specs = store.specs();
  for (size_t i = 0; i + 1 < specs.size(); ++i) {
    const bool fused = specs[i].name.ends_with("q_proj.weight") || specs[i].name.ends_with("k_proj.weight") ||
                       specs[i].name.ends_with("gate_proj.weight");
    if (fused) EXPECT_EQ(store.offset(i + 1), store.offset(i) + specs[i].numel()) << specs[i].name;
    else EXPECT_EQ(store.offset(i + 1) % ParamStore::kParamAlign, 0) << specs[i + 1].name;
  }
  EXPECT_GE(store.padded_numel(), total_numel(specs));
  EXPECT_EQ(store.param("lm_head.weight").data,
            static_cast<float*>(store.flat_params().data) + store.offset(specs.size() - 1));
  EXPECT_THROW(store.param("model.nope"), std::out_of_range);
}

TEST(ParamStore, LoadConvertsAndChecksShapes) {
  const auto cfg = tiny_config(true);
  ParamStore src(cfg, DType::F64, Device::CPU), dst(cfg, DType::F32, Device::CPU);
  init_random(src, 1);
  dst.load(src.params(), "test");
  EXPECT_FLOAT_EQ(dst.param(3).ptr<float>()[5], static_cast<float>(src.param(3).ptr<double>()[5]));
  NamedTensors missing(src.params().begin() + 1, src.params().end());
  EXPECT_THROW(dst.load(missing, "test"), std::runtime_error);
}

TEST(WeMask, TopKBreaksTiesByLowerIndex) {
  EXPECT_EQ(top_k_indices({1.0, 5.0, 3.0, 5.0, 0.5}, 3), (std::vector<int32_t>{1, 3, 2}));
  EXPECT_EQ(top_k_indices({2.0, 2.0, 2.0}, 2), (std::vector<int32_t>{0, 1}));
  EXPECT_TRUE(top_k_indices({1.0}, 0).empty());
}

TEST(WeMask, ResolvesLayerModes) {
  EXPECT_EQ(resolve_wemask_layers("from_me", 1, 4), (std::vector<int>{1, 2, 3}));
  EXPECT_EQ(resolve_wemask_layers("me_only", 2, 4), (std::vector<int>{2}));
  EXPECT_THROW(resolve_wemask_layers("all", 1, 4), std::invalid_argument);
  EXPECT_THROW(resolve_wemask_layers("me_only", 4, 4), std::invalid_argument);
  EXPECT_EQ(parse_wemask_select("norm_weight"), WeMaskSelect::NormWeight);
  EXPECT_THROW(parse_wemask_select("x"), std::invalid_argument);
}

}  // namespace
}  // namespace wm::test
