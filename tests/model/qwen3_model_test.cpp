// Qwen3Model behaviour: recompute, chunked loss, WeMask on/off, logits, observer.
#include <gtest/gtest.h>

#include <cmath>

#include "kernels/ops.h"
#include "tests/model/model_test_util.h"

namespace wm::test {
namespace {

struct RunResult {
  double loss;
  std::vector<double> grads;
};

RunResult run(bool tied, ModelOptions opt, uint32_t seed = 5) {
  Qwen3Model model(tiny_config(tied), std::move(opt));
  init_random(model.params(), seed);
  Batch batch(test_batch(), Device::CPU);
  model.params().zero_grad();
  RunResult r;
  r.loss = model.forward_backward(batch);
  r.grads = host_values(model.params().flat_grads());
  return r;
}

ModelOptions options(DType dt = DType::F64) {
  ModelOptions o;
  o.dtype = dt;
  o.max_tokens = 16;
  return o;
}

double max_abs_diff(const std::vector<double>& a, const std::vector<double>& b) {
  double m = 0.0;
  for (size_t i = 0; i < a.size(); ++i) m = std::max(m, std::abs(a[i] - b[i]));
  return m;
}

TEST(Qwen3Model, RecomputeGivesIdenticalGradients) {
  for (bool with_mask : {false, true}) {
    ModelOptions off = options(DType::F32), on = options(DType::F32);
    on.recompute = true;
    if (with_mask) off.wemask = on.wemask = WeMaskSpec{true, {1}, 0.25, 0.9, WeMaskSelect::Activation};
    const RunResult a = run(false, off), b = run(false, on);
    EXPECT_EQ(a.loss, b.loss);
    EXPECT_EQ(max_abs_diff(a.grads, b.grads), 0.0) << "with_mask=" << with_mask;
  }
}

TEST(Qwen3Model, ChunkedLossEqualsUnchunked) {
  ModelOptions whole = options(), chunked = options();
  whole.loss_chunk = 16;
  chunked.loss_chunk = 3;
  for (bool tied : {true, false}) {
    const RunResult a = run(tied, whole), b = run(tied, chunked);
    EXPECT_NEAR(a.loss, b.loss, 1e-14);
    EXPECT_LT(max_abs_diff(a.grads, b.grads), 1e-13);
  }
}

TEST(Qwen3Model, GradientsAccumulateAcrossCalls) {
  Qwen3Model model(tiny_config(true), options());
  init_random(model.params(), 3);
  Batch batch(test_batch(), Device::CPU);
  model.params().zero_grad();
  model.forward_backward(batch);
  const auto once = host_values(model.params().flat_grads());
  model.forward_backward(batch);
  const auto twice = host_values(model.params().flat_grads());
  for (size_t i = 0; i < once.size(); ++i) ASSERT_NEAR(twice[i], 2 * once[i], 1e-12 + 1e-12 * std::abs(once[i]));
}

TEST(Qwen3Model, LossMatchesLogitsAndIsAMeanOverLossTokens) {
  Qwen3Model model(tiny_config(false), options());
  init_random(model.params(), 9);
  const HostBatch hb = test_batch();
  Batch batch(hb, Device::CPU);
  const int64_t T = hb.num_tokens(), V = model.config().vocab_size;
  OwnedTensor logits({T, V}, DType::F64);
  model.forward_logits(batch, logits.t());
  const LossResult r = model.forward_loss(batch);
  double mean = 0.0;
  for (int64_t t = 0; t < T; ++t) {
    const double* row = logits.ptr<double>() + t * V;
    if (hb.targets[t] == kIgnoreIndex) {
      EXPECT_EQ(r.token_loss[t], 0.0);
      continue;
    }
    double mx = row[0];
    for (int64_t v = 1; v < V; ++v) mx = std::max(mx, row[v]);
    double s = 0.0;
    for (int64_t v = 0; v < V; ++v) s += std::exp(row[v] - mx);
    const double loss = mx + std::log(s) - row[hb.targets[t]];
    EXPECT_NEAR(r.token_loss[t], loss, 1e-12);
    mean += loss / static_cast<double>(hb.num_loss_tokens());
  }
  EXPECT_NEAR(r.weighted_loss, mean, 1e-6);  // loss weights are F32
}

TEST(Qwen3Model, PackedDocumentsMatchSeparateRuns) {
  // Row 0 of the test batch holds two documents; each must score as if run alone.
  Qwen3Model model(tiny_config(true), options());
  init_random(model.params(), 21);
  const LossResult packed = model.forward_loss(Batch(test_batch(), Device::CPU));
  const LossResult second = model.forward_loss(Batch(pack_documents({{{7, 3, 60, 11}}}, 4), Device::CPU));
  for (int i = 0; i < 3; ++i) EXPECT_NEAR(packed.token_loss[3 + i], second.token_loss[i], 1e-12);
}

TEST(Qwen3ModelWeMask, GammaZeroEqualsNoMask) {
  ModelOptions plain = options(), zero = options(), half = options();
  zero.wemask = WeMaskSpec{true, {0, 1}, 0.25, 0.0, WeMaskSelect::Activation};
  half.wemask = WeMaskSpec{true, {0, 1}, 0.25, 0.5, WeMaskSelect::Activation};
  const RunResult a = run(true, plain), b = run(true, zero), c = run(true, half);
  EXPECT_EQ(a.loss, b.loss);
  EXPECT_EQ(max_abs_diff(a.grads, b.grads), 0.0);
  EXPECT_GT(std::abs(a.loss - c.loss), 1e-6);  // a real mask changes the model
}

TEST(Qwen3ModelWeMask, SelectsTopDimsOfSinkRows) {
  ModelOptions o = options();
  o.wemask = WeMaskSpec{true, {1}, 0.125, 1.0, WeMaskSelect::Activation};
  Qwen3Model model(tiny_config(true), o);
  init_random(model.params(), 4);
  const HostBatch hb = test_batch();
  std::vector<std::vector<double>> normed_sink_rows;
  model.set_observer([&](const LayerObservation& obs) {
    if (obs.layer != 1) return;
    for (int32_t r : hb.sink_rows()) {
      std::vector<double> row(obs.normed.shape[1]);
      for (size_t j = 0; j < row.size(); ++j) row[j] = obs.normed.ptr<double>()[r * row.size() + j];
      normed_sink_rows.push_back(row);
    }
  });
  model.forward_loss(Batch(hb, Device::CPU));
  EXPECT_TRUE(model.wemask().selected_dims(0).empty());
  const auto& dims = model.wemask().selected_dims(1);
  ASSERT_EQ(dims.size(), 4u);
  ASSERT_EQ(normed_sink_rows.size(), 3u);  // documents at 0, 3 and 8; padding at 7 excluded
  for (const auto& row : normed_sink_rows)
    for (int32_t j : dims) EXPECT_EQ(row[j], 0.0);  // gamma 1 zeroes the chosen entries
}

TEST(Qwen3Model, ObserverSeesEveryLayerWithConsistentViews) {
  Qwen3Model model(tiny_config(true), options());
  init_random(model.params(), 2);
  int calls = 0;
  model.set_observer([&](const LayerObservation& obs) {
    EXPECT_EQ(obs.layer, calls++);
    ASSERT_EQ(obs.output.numel(), 16 * 32);
    for (int64_t i = 0; i < obs.output.numel(); ++i) {
      const double expect = obs.input.ptr<double>()[i] + obs.attn_output.ptr<double>()[i] + obs.mlp_output.ptr<double>()[i];
      ASSERT_NEAR(obs.output.ptr<double>()[i], expect, 1e-12);
    }
    EXPECT_EQ(obs.attn_lse.shape[0], 4);
    EXPECT_EQ(obs.q.shape[1], 4);
    EXPECT_EQ(obs.k.shape[1], 2);
  });
  model.forward_loss(Batch(test_batch(), Device::CPU));
  EXPECT_EQ(calls, 2);
}

TEST(Qwen3Model, InferenceOnlyNeedsLessMemoryAndRefusesBackward) {
  ModelOptions train = options(), infer = options();
  infer.inference_only = true;
  Qwen3Model a(tiny_config(true), train), b(tiny_config(true), infer);
  EXPECT_LT(b.activation_bytes(), a.activation_bytes() / 2);
  init_random(a.params(), 8);
  b.params().load(a.params().params(), "test");
  Batch batch(test_batch(), Device::CPU);
  EXPECT_EQ(a.forward_loss(batch).weighted_loss, b.forward_loss(batch).weighted_loss);
  EXPECT_THROW(b.forward_backward(batch), std::logic_error);
}

TEST(Qwen3Model, RejectsBadBatches) {
  Qwen3Model model(tiny_config(true), options());
  HostBatch hb = test_batch();
  hb.tokens[4] = 64;
  EXPECT_THROW(model.forward_loss(Batch(hb, Device::CPU)), std::invalid_argument);
  HostBatch big = pack_documents({{std::vector<int32_t>(20, 1)}}, 20);
  EXPECT_THROW(model.forward_loss(Batch(big, Device::CPU)), std::invalid_argument);
}

}  // namespace
}  // namespace wm::test
