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

// A nonlinear per-token objective through forward_backward(batch, dloss):
// J = sum_t a_t * p_t with p_t = exp(-loss_t), so dJ/dloss_t = -a_t * p_t.
TEST(Qwen3ModelCustomObjective, GradientMatchesFiniteDifferences) {
  Qwen3Model model(tiny_config(true), f64_options());
  init_random(model.params(), 17);
  const HostBatch hb = test_batch();
  Batch batch(hb, Device::CPU);
  std::vector<double> a(hb.num_tokens());
  for (size_t t = 0; t < a.size(); ++t) a[t] = hb.targets[t] == kIgnoreIndex ? 0.0 : 0.5 - 0.1 * static_cast<double>(t % 7);
  auto objective = [&] {
    const auto losses = model.forward_loss(batch).token_loss;
    double j = 0.0;
    for (size_t t = 0; t < a.size(); ++t) j += a[t] * std::exp(-losses[t]);
    return j;
  };
  auto& store = model.params();
  store.zero_grad();
  model.forward_backward(batch, [&](const std::vector<double>& losses) {
    std::vector<float> w(losses.size());
    for (size_t t = 0; t < w.size(); ++t) w[t] = static_cast<float>(-a[t] * std::exp(-losses[t]));
    return w;
  });
  std::mt19937 rng(5);
  const double h = 1e-5;
  for (size_t i = 0; i < store.specs().size(); ++i) {
    const Tensor p = store.param(i), g = store.grad(i);
    std::uniform_int_distribution<int64_t> pick(0, p.numel() - 1);
    for (int s = 0; s < 3; ++s) {
      const int64_t j = pick(rng);
      double& w = p.ptr<double>()[j];
      const double saved = w;
      w = saved + h;
      const double up = objective();
      w = saved - h;
      const double down = objective();
      w = saved;
      const double numeric = (up - down) / (2 * h);
      // The weights pass through F32, hence the looser relative tolerance.
      EXPECT_NEAR(g.ptr<double>()[j], numeric, 1e-8 + 1e-6 * std::abs(numeric)) << store.specs()[i].name << "[" << j << "]";
    }
  }
}

TEST(Qwen3ModelCustomObjective, LossWeightsReproduceTheStandardStep) {
  Qwen3Model model(tiny_config(false), f64_options());
  init_random(model.params(), 19);
  const HostBatch hb = test_batch();
  Batch batch(hb, Device::CPU);
  model.params().zero_grad();
  const double standard = model.forward_backward(batch);
  const auto expect = host_values(model.params().flat_grads());
  model.params().zero_grad();
  const double custom = model.forward_backward(batch, [&](const std::vector<double>&) { return hb.loss_weight; });
  const auto got = host_values(model.params().flat_grads());
  EXPECT_NEAR(custom, standard, 1e-14);
  for (size_t i = 0; i < got.size(); ++i) ASSERT_NEAR(got[i], expect[i], 1e-14) << i;
  EXPECT_THROW(model.forward_backward(batch, [](const std::vector<double>&) { return std::vector<float>(3); }),
               std::invalid_argument);
}

}  // namespace
}  // namespace wm::test
