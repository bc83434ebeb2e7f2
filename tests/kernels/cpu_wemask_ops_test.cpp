#include <gtest/gtest.h>

#include <cmath>

#include "kernels/buffer.h"
#include "kernels/ops.h"
#include "tests/testing/gradcheck.h"

namespace wm {
namespace {

using testing::get;

OwnedTensor indices(std::initializer_list<int32_t> v) {
  OwnedTensor t({static_cast<int64_t>(v.size())}, DType::I32);
  std::copy(v.begin(), v.end(), t.ptr<int32_t>());
  return t;
}

TEST(CpuWeMaskOps, ScaleEntriesTouchesOnlyChosenEntries) {
  std::mt19937 rng(91);
  for (DType dt : {DType::F32, DType::F64, DType::BF16}) {
    OwnedTensor x = testing::random_tensor({6, 9}, dt, rng);
    const std::vector<double> x0 = testing::to_vector(x);
    OwnedTensor rows = indices({0, 4}), dims = indices({8, 2, 5});
    ops::scale_entries(x, rows, dims, 0.25f);
    for (int64_t r = 0; r < 6; ++r)
      for (int64_t j = 0; j < 9; ++j) {
        const bool chosen = (r == 0 || r == 4) && (j == 8 || j == 2 || j == 5);
        EXPECT_EQ(get(x, r * 9 + j), chosen ? x0[r * 9 + j] * 0.25 : x0[r * 9 + j]) << r << "," << j;
      }
  }
}

TEST(CpuWeMaskOps, MeanAbsRows) {
  std::mt19937 rng(92);
  OwnedTensor x = testing::random_tensor({5, 7}, DType::F32, rng, -3, 3);
  OwnedTensor rows = indices({1, 3, 1});  // repeats count twice
  OwnedTensor out({7}, DType::F32);
  ops::mean_abs_rows(out, x, rows);
  for (int64_t j = 0; j < 7; ++j) {
    const double expected = (2 * std::fabs(get(x, 7 + j)) + std::fabs(get(x, 21 + j))) / 3;
    EXPECT_NEAR(get(out, j), expected, 1e-6);
  }
}

TEST(CpuWeMaskOps, BadIndicesThrow) {
  OwnedTensor x({4, 5}, DType::F32), out({5}, DType::F32), out_short({4}, DType::F32);
  ops::zero(x);
  OwnedTensor bad_row = indices({4}), bad_dim = indices({5}), ok = indices({0}), none = indices({});
  EXPECT_THROW(ops::scale_entries(x, bad_row, ok, 2.0f), std::out_of_range);
  EXPECT_THROW(ops::scale_entries(x, ok, bad_dim, 2.0f), std::out_of_range);
  EXPECT_THROW(ops::mean_abs_rows(out, x, bad_row), std::out_of_range);
  EXPECT_THROW(ops::mean_abs_rows(out_short, x, ok), std::invalid_argument);
  EXPECT_THROW(ops::mean_abs_rows(out, x, none), std::invalid_argument);
}

}  // namespace
}  // namespace wm
