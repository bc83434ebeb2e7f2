#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "kernels/ops.h"
#include "model/param_store.h"
#include "trainer/optim/adamw.h"

using namespace wm;

namespace {

Qwen3Config tiny_config() {
  Qwen3Config c;
  c.vocab_size = 50;
  c.hidden_size = 16;
  c.intermediate_size = 24;
  c.num_hidden_layers = 2;
  c.num_attention_heads = 2;
  c.num_key_value_heads = 1;
  c.head_dim = 8;
  return c;
}

void fill_random(const Tensor& t, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> dist(0.0f, 1.0f);
  for (auto& x : t.span<float>()) x = dist(rng);
}

}  // namespace

TEST(AdamW, DecaySegmentsExemptNormsAndEmbeddings) {
  ParamStore store(tiny_config(), DType::F32, Device::CPU);
  auto segs = decay_segments(store, true);
  int64_t covered = 0;
  for (const auto& s : segs) {
    EXPECT_EQ(s.offset, covered);
    covered += s.numel;
  }
  EXPECT_EQ(covered, store.padded_numel());
  auto decay_at = [&](const std::string& name) {
    int64_t off = store.offset(store.index(name));
    for (const auto& s : segs)
      if (off >= s.offset && off < s.offset + s.numel) return s.decay;
    ADD_FAILURE() << name;
    return false;
  };
  EXPECT_FALSE(decay_at("model.embed_tokens.weight"));
  EXPECT_FALSE(decay_at("model.layers.0.input_layernorm.weight"));
  EXPECT_FALSE(decay_at("model.layers.1.self_attn.k_norm.weight"));
  EXPECT_TRUE(decay_at("model.layers.0.self_attn.q_proj.weight"));
  EXPECT_TRUE(decay_at("model.layers.1.mlp.down_proj.weight"));
  auto all = decay_segments(store, false);
  ASSERT_EQ(all.size(), 1u);
  EXPECT_TRUE(all[0].decay);
}

TEST(AdamW, ClipScaleAndNorm) {
  EXPECT_FLOAT_EQ(clip_scale(0.5, 1.0), 1.0f);
  EXPECT_NEAR(clip_scale(4.0, 1.0), 0.25f, 1e-6);
  EXPECT_FLOAT_EQ(clip_scale(4.0, 0.0), 1.0f);
  OwnedTensor g({3}, DType::F32);
  g.span<float>()[0] = 3;
  g.span<float>()[1] = 0;
  g.span<float>()[2] = 4;
  EXPECT_DOUBLE_EQ(global_grad_norm(g), 5.0);
  g.span<float>()[1] = NAN;
  EXPECT_TRUE(std::isnan(global_grad_norm(g)));
}

TEST(AdamW, StepMatchesScalarReference) {
  ParamStore store(tiny_config(), DType::F32, Device::CPU);
  fill_random(store.flat_params(), 1);
  OptimizerOptions o;
  o.beta1 = 0.8;
  o.beta2 = 0.95;
  o.eps = 1e-6;
  o.weight_decay = 0.1;
  AdamW opt(store.flat_params(), store.flat_grads(), decay_segments(store, true), o);
  const int64_t n = store.padded_numel();
  std::vector<double> p(n), m(n, 0), v(n, 0);
  for (int64_t i = 0; i < n; ++i) p[i] = store.flat_params().span<float>()[i];
  std::vector<bool> decays(n);
  for (const auto& s : opt.segments())
    for (int64_t i = s.offset; i < s.offset + s.numel; ++i) decays[i] = s.decay;

  const double lr = 1e-2;
  const float scale = 0.5f;
  for (int step = 1; step <= 3; ++step) {
    fill_random(store.flat_grads(), 100 + step);
    auto g = store.flat_grads().span<float>();
    for (int64_t i = 0; i < n; ++i) {
      double gi = g[i] * scale;
      m[i] = o.beta1 * m[i] + (1 - o.beta1) * gi;
      v[i] = o.beta2 * v[i] + (1 - o.beta2) * gi * gi;
      double mh = m[i] / (1 - std::pow(o.beta1, step)), vh = v[i] / (1 - std::pow(o.beta2, step));
      double wd = decays[i] ? o.weight_decay : 0.0;
      p[i] -= lr * mh / (std::sqrt(vh) + o.eps) + lr * wd * p[i];
    }
    opt.step(lr, scale);
  }
  EXPECT_EQ(opt.steps_taken(), 3);
  auto got = store.flat_params().span<float>();
  auto master = opt.master().span<float>();
  for (int64_t i = 0; i < n; ++i) {
    ASSERT_NEAR(master[i], p[i], 1e-4 * (1 + std::abs(p[i]))) << i;
    ASSERT_EQ(got[i], master[i]) << i;  // fp32 compute weights are the master copy
  }
}

TEST(AdamW, RefreshesBf16Weights) {
  ParamStore store(tiny_config(), DType::BF16, Device::CPU);
  OwnedTensor init({store.padded_numel()}, DType::F32);
  fill_random(init, 7);
  ops::convert(store.flat_params(), init);
  AdamW opt(store.flat_params(), store.flat_grads(), decay_segments(store, true), {});
  ops::fill(store.flat_grads(), 1.0);
  opt.step(1e-3, 1.0f);
  auto master = opt.master().span<float>();
  auto weights = store.flat_params().span<bf16>();
  for (int64_t i = 0; i < store.padded_numel(); ++i)
    ASSERT_EQ(weights[i].bits, float_to_bf16(master[i]).bits) << i;
  OwnedTensor wrong_size({5}, DType::F32);
  EXPECT_THROW(AdamW(store.flat_params(), wrong_size, {}, {}), std::invalid_argument);
}
