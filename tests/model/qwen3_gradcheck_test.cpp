// Whole-model finite-difference gradient checks in F64 on a tiny config.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>

#include "tests/model/model_test_util.h"

namespace wm::test {
namespace {

ModelOptions f64_options(bool recompute = false, WeMaskSpec wemask = {}) {
  ModelOptions o;
  o.dtype = DType::F64;
  o.recompute = recompute;
  o.wemask = std::move(wemask);
  o.max_tokens = 16;
  o.loss_chunk = 5;  // several chunks, the last one partial
  return o;
}

// Central differences on a few sampled entries of every parameter vs the analytic gradient.
void expect_gradients_match(Qwen3Model& model, const Batch& batch, int samples_per_param) {
  auto& store = model.params();
  store.zero_grad();
  model.forward_backward(batch);
  std::mt19937 rng(123);
  const double h = 1e-5;
  for (size_t i = 0; i < store.specs().size(); ++i) {
    const Tensor p = store.param(i), g = store.grad(i);
    std::uniform_int_distribution<int64_t> pick(0, p.numel() - 1);
    double max_abs_grad = 0.0;
    for (int64_t j = 0; j < g.numel(); ++j) max_abs_grad = std::max(max_abs_grad, std::abs(g.ptr<double>()[j]));
    EXPECT_GT(max_abs_grad, 0.0) << store.specs()[i].name << " has an all-zero gradient";
    for (int s = 0; s < samples_per_param; ++s) {
      const int64_t j = pick(rng);
      double& w = p.ptr<double>()[j];
      const double saved = w;
      w = saved + h;
      const double up = model.forward_loss(batch).weighted_loss;
      w = saved - h;
      const double down = model.forward_loss(batch).weighted_loss;
      w = saved;
      const double numeric = (up - down) / (2 * h);
      const double analytic = g.ptr<double>()[j];
      EXPECT_NEAR(analytic, numeric, 1e-7 + 1e-5 * std::abs(numeric))
          << store.specs()[i].name << "[" << j << "]";
    }
  }
}

class GradCheck : public ::testing::TestWithParam<bool> {};

TEST_P(GradCheck, EveryParameterMatchesFiniteDifferences) {
  const bool tied = GetParam();
  Qwen3Model model(tiny_config(tied), f64_options());
  init_random(model.params(), 7);
  Batch batch(test_batch(), Device::CPU);
  expect_gradients_match(model, batch, 6);
}

INSTANTIATE_TEST_SUITE_P(Qwen3Model, GradCheck, ::testing::Values(true, false),
                         [](const auto& info) { return info.param ? "tied" : "untied"; });

TEST(Qwen3ModelWeMask, GradientMatchesFiniteDifferences) {
  for (auto select : {WeMaskSelect::Activation, WeMaskSelect::NormWeight}) {
    WeMaskSpec spec{true, {0, 1}, 0.25, 0.7, select};
    Qwen3Model model(tiny_config(false), f64_options(/*recompute=*/true, spec));
    init_random(model.params(), 11);
    Batch batch(test_batch(), Device::CPU);
    expect_gradients_match(model, batch, 4);
    EXPECT_EQ(model.wemask().selected_dims(0).size(), 8u);
    EXPECT_EQ(model.wemask().selected_dims(1).size(), 8u);
  }
}

}  // namespace
}  // namespace wm::test
