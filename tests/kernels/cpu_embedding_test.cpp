#include <gtest/gtest.h>

#include "kernels/buffer.h"
#include "kernels/ops.h"
#include "tests/testing/gradcheck.h"

namespace wm {
namespace {

using testing::get;
using testing::random_tensor;

OwnedTensor ids_tensor(std::initializer_list<int32_t> ids) {
  OwnedTensor t({static_cast<int64_t>(ids.size())}, DType::I32);
  std::copy(ids.begin(), ids.end(), t.ptr<int32_t>());
  return t;
}

TEST(CpuEmbedding, ForwardGathersRows) {
  std::mt19937 rng(11);
  for (DType dt : {DType::F32, DType::F64, DType::BF16}) {
    OwnedTensor table = random_tensor({13, 7}, dt, rng);
    OwnedTensor ids = ids_tensor({3, 0, 12, 3, 5});
    OwnedTensor out({5, 7}, dt);
    ops::embedding_forward(out, ids, table);
    for (int64_t t = 0; t < 5; ++t)
      for (int64_t j = 0; j < 7; ++j) EXPECT_EQ(get(out, t * 7 + j), get(table, ids.ptr<int32_t>()[t] * 7 + j));
  }
}

TEST(CpuEmbedding, Bf16TableIntoF32Output) {
  std::mt19937 rng(12);
  OwnedTensor table = random_tensor({9, 4}, DType::BF16, rng);
  OwnedTensor ids = ids_tensor({8, 1});
  OwnedTensor out({2, 4}, DType::F32);
  ops::embedding_forward(out, ids, table);
  for (int64_t j = 0; j < 4; ++j) {
    EXPECT_EQ(get(out, j), get(table, 8 * 4 + j));
    EXPECT_EQ(get(out, 4 + j), get(table, 1 * 4 + j));
  }
}

TEST(CpuEmbedding, IdOutOfRangeNamesIdRowAndVocab) {
  OwnedTensor table({10, 3}, DType::F32), out({3, 3}, DType::F32);
  OwnedTensor ids = ids_tensor({1, 10, 2});
  try {
    ops::embedding_forward(out, ids, table);
    FAIL() << "no exception";
  } catch (const std::out_of_range& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find("10"), std::string::npos) << msg;
    EXPECT_NE(msg.find("row 1"), std::string::npos) << msg;
    EXPECT_NE(msg.find("size 10"), std::string::npos) << msg;
  }
  OwnedTensor negative = ids_tensor({-1, 0, 0});
  EXPECT_THROW(ops::embedding_forward(out, negative, table), std::out_of_range);
  EXPECT_THROW(ops::embedding_backward(table, out, negative), std::out_of_range);
  OwnedTensor bad_out({3, 4}, DType::F32);
  OwnedTensor ok_ids = ids_tensor({1, 2, 3});
  EXPECT_THROW(ops::embedding_forward(bad_out, ok_ids, table), std::invalid_argument);
}

// L = sum(out * r); dL/dtable by finite differences equals the scatter-add of r (accumulated).
TEST(CpuEmbedding, BackwardMatchesFiniteDifferencesAndAccumulates) {
  std::mt19937 rng(13);
  OwnedTensor table = random_tensor({11, 5}, DType::F64, rng);
  OwnedTensor ids = ids_tensor({4, 7, 4, 10, 0, 4, 7});  // repeated ids must add up
  OwnedTensor out({7, 5}, DType::F64);
  OwnedTensor r = random_tensor({7, 5}, DType::F64, rng);
  auto loss = [&] {
    ops::embedding_forward(out, ids, table);
    return testing::dot(out, r);
  };
  const std::vector<double> numeric = testing::numeric_gradient(table, loss);
  OwnedTensor dtable = random_tensor({11, 5}, DType::F64, rng);  // pre-existing gradient
  const std::vector<double> before = testing::to_vector(dtable);
  ops::embedding_backward(dtable, r, ids);
  std::vector<double> added(before.size());
  for (size_t i = 0; i < added.size(); ++i) added[i] = get(dtable, i) - before[i];
  EXPECT_LT(testing::max_rel_error(added, numeric), 1e-6);
}

}  // namespace
}  // namespace wm
