// Qwen3Model (CPU, F32) against Hugging Face transformers goldens made by
// tests/fixtures/make_hf_golden.py: logits, loss and every parameter gradient, for plain and
// WeMask cases, with the documents packed into rows and unpacked (one per row, padded).
//
// Tolerance on the CPU: for each tensor, max |ours - HF| <= 1e-5 * max |HF| (+1e-7 absolute);
// loss to 1e-5 relative. Both sides compute in fp32; the errors observed are printed.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>

#include <nlohmann/json.hpp>

#include "kernels/backend.h"
#include "model/hf_checkpoint.h"
#include "model/host_io.h"
#include "model/qwen3.h"
#include "model/safetensors.h"

namespace wm {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

const fs::path kFixtures = fs::path(WEMASK_SOURCE_DIR) / "tests" / "fixtures";

json read_json(const fs::path& p) {
  std::ifstream in(p);
  if (!in) throw std::runtime_error("cannot open " + p.string());
  return json::parse(in);
}

// The golden's documents laid out in rows of `seq` tokens (row r holds documents rows[r]).
HostBatch layout_batch(const json& golden, const json& rows) {
  const auto& docs = golden["documents"];
  HostBatch b;
  b.rows = static_cast<int64_t>(rows.size());
  b.seq = golden["seq"].get<int64_t>();
  b.tokens.assign(b.num_tokens(), 0);
  b.targets.assign(b.num_tokens(), kIgnoreIndex);
  std::vector<std::vector<int64_t>> lengths;
  for (size_t r = 0; r < rows.size(); ++r) {
    int64_t t = static_cast<int64_t>(r) * b.seq;
    lengths.emplace_back();
    for (int d : rows[r]) {
      const auto tokens = docs[d]["tokens"].get<std::vector<int32_t>>();
      const auto targets = docs[d]["targets"].get<std::vector<int32_t>>();
      for (size_t i = 0; i < tokens.size(); ++i) {
        b.tokens[t + i] = tokens[i];
        b.targets[t + i] = targets[i];
      }
      lengths.back().push_back(static_cast<int64_t>(tokens.size()));
      t += static_cast<int64_t>(tokens.size());
    }
  }
  set_document_layout(b, lengths);
  const float w = 1.0f / static_cast<float>(b.num_loss_tokens());
  b.loss_weight.assign(b.num_tokens(), 0.0f);
  for (int64_t t = 0; t < b.num_tokens(); ++t)
    if (b.targets[t] != kIgnoreIndex) b.loss_weight[t] = w;
  return b;
}

WeMaskSpec wemask_spec(const json& golden) {
  WeMaskSpec spec;
  const json& w = golden["wemask"];
  if (w.is_null()) return spec;
  spec.enabled = true;
  spec.layers = w["layers"].get<std::vector<int>>();
  spec.mask_rate = w["mask_rate"].get<double>();
  spec.gamma = w["gamma"].get<double>();
  spec.select = parse_wemask_select(w["select"].get<std::string>());
  return spec;
}

// How a run is compared: max |ours - HF| <= rel * max |HF| + 1e-7 per tensor (fp32), or, for
// bf16, the relative L2 error ||ours - HF|| / ||HF|| <= rel.
struct Setting {
  Device device = Device::CPU;
  DType dtype = DType::F32;
  bool recompute = false;
  bool recompute_mlp_only = false;
  double rel = 1e-5;
  bool l2 = false;
  double loss_rel = 1e-5;  // relative error of the loss
  std::string name() const {
    return std::string(device_name(device)) + "/" + dtype_name(dtype) + (recompute ? "/recompute" : "") +
           (recompute_mlp_only ? "_mlp" : "");
  }
};

void expect_close(const std::string& what, const std::vector<double>& ours, const float* golden,
                  const Setting& s, double* worst) {
  double err = 0.0, scale = 0.0, diff2 = 0.0, norm2 = 0.0;
  for (size_t i = 0; i < ours.size(); ++i) {
    const double d = ours[i] - golden[i];
    err = std::max(err, std::abs(d));
    scale = std::max(scale, std::abs(static_cast<double>(golden[i])));
    diff2 += d * d;
    norm2 += static_cast<double>(golden[i]) * golden[i];
  }
  if (s.l2) {
    const double rel = std::sqrt(diff2 / std::max(norm2, 1e-30));
    EXPECT_LE(rel, s.rel) << what << ": relative L2 error " << rel;
    *worst = std::max(*worst, rel);
  } else {
    EXPECT_LE(err, s.rel * scale + 1e-7) << what << ": max error " << err << " at scale " << scale;
    *worst = std::max(*worst, err / std::max(scale, 1e-30));
  }
}

void check_case(const std::string& config_name, const std::string& case_name, const Setting& setting) {
  const fs::path dir = kFixtures / config_name;
  const json golden = read_json(dir / "golden" / (case_name + ".json"));
  const SafetensorsFile tensors((dir / "golden" / (case_name + ".safetensors")).string());
  const Qwen3Config cfg = Qwen3Config::from_json_file((dir / "config.json").string());
  const int64_t V = cfg.vocab_size;

  for (const auto& [layout_name, rows] : golden["layouts"].items()) {
    SCOPED_TRACE(config_name + "/" + case_name + "/" + layout_name + "/" + setting.name());
    const HostBatch hb = layout_batch(golden, rows);
    ModelOptions opt;
    opt.device = setting.device;
    opt.dtype = setting.dtype;
    opt.recompute = setting.recompute;
    opt.recompute_mlp_only = setting.recompute_mlp_only;
    opt.wemask = wemask_spec(golden);
    opt.max_tokens = hb.num_tokens();
    opt.loss_chunk = 7;
    Qwen3Model model(cfg, opt);
    load_hf_weights(dir.string(), cfg, model.params().params());
    Batch batch(hb, setting.device);
    double worst = 0.0;

    // Logits: golden holds the real tokens in document order.
    const SafetensorsEntry& le = tensors.at("logits");
    OwnedTensor gold_logits({le.shape[0], V}, DType::F32);
    tensors.read_into("logits", gold_logits.t());
    OwnedTensor logits({hb.num_tokens(), V}, setting.dtype, setting.device);
    model.forward_logits(batch, logits.t());
    const std::vector<double> ours = to_host_f64(logits.t());
    int64_t n = 0;
    for (int64_t t = 0; t < hb.num_tokens(); ++t) {
      if (hb.is_padding[t]) continue;
      expect_close("logits row " + std::to_string(t), std::vector<double>(ours.begin() + t * V, ours.begin() + (t + 1) * V),
                   gold_logits.ptr<float>() + n * V, setting, &worst);
      ++n;
    }
    EXPECT_EQ(n, le.shape[0]);

    model.params().zero_grad();
    const double loss = model.forward_backward(batch);
    const double gold_loss = golden["loss"].get<double>();
    EXPECT_NEAR(loss, gold_loss, setting.loss_rel * std::abs(gold_loss));

    for (const auto& g : model.params().grads()) {
      OwnedTensor gold({g.tensor.numel()}, DType::F32);
      tensors.read_into("grad." + g.name, gold.t());
      expect_close("grad " + g.name, to_host_f64(g.tensor), gold.ptr<float>(), setting, &worst);
    }

    if (!setting.l2 && !golden["wemask"].is_null())  // bf16 may pick near-tied dims differently
      for (const auto& [layer, dims] : golden["wemask"]["selected_dims"].items())
        EXPECT_EQ(model.wemask().selected_dims(std::stoi(layer)), dims.get<std::vector<int32_t>>())
            << "layer " << layer;
    std::printf("  %s/%s/%s/%s: loss %.7f (HF %.7f), worst %s error %.2e\n", config_name.c_str(),
                case_name.c_str(), layout_name.c_str(), setting.name().c_str(), loss, gold_loss,
                setting.l2 ? "relative L2" : "relative max", worst);
  }
}

const char* const kCasesA[] = {"plain", "wemask_from_me", "wemask_me_only", "wemask_norm_weight"};
const char* const kCasesB[] = {"plain", "wemask_from_me"};

TEST(HfParity, TinyTiedGqa) {
  for (const char* c : kCasesA) check_case("qwen3_tiny_a", c, Setting{});
  check_case("qwen3_tiny_a", "wemask_from_me", Setting{.recompute = true});
  check_case("qwen3_tiny_a", "wemask_from_me", Setting{.recompute = true, .recompute_mlp_only = true});
}

TEST(HfParity, TinyUntiedSingleKvHead) {
  for (const char* c : kCasesB) check_case("qwen3_tiny_b", c, Setting{});
}

// The same goldens on the GPU (skipped without one). The CUDA attention kernel runs its tensor-core
// products in bf16 even for fp32 tensors, so fp32 on CUDA is only bf16-accurate in attention:
// measured on an H100 (2026-11-22), worst relative max error 2.2e-2 (fp32) and worst relative
// L2 error 9.1e-2 (bf16) over all tensors, loss 1.6e-4 / 1.4e-3 relative; the bounds below
// leave about 2x headroom. A wrong backward
// gives errors of order 1.
TEST(HfParityCuda, Fp32AndBf16) {
  if (!cuda_available()) GTEST_SKIP() << "no CUDA GPU";
  for (const char* c : kCasesA) {
    check_case("qwen3_tiny_a", c, Setting{.device = Device::CUDA, .rel = 5e-2, .loss_rel = 1e-3});
    check_case("qwen3_tiny_a", c, Setting{.device = Device::CUDA, .dtype = DType::BF16, .rel = 0.2, .l2 = true, .loss_rel = 1e-2});
  }
  check_case("qwen3_tiny_a", "wemask_from_me", Setting{.device = Device::CUDA, .recompute = true, .rel = 5e-2, .loss_rel = 1e-3});
  check_case("qwen3_tiny_a", "wemask_from_me",
             Setting{.device = Device::CUDA, .recompute = true, .recompute_mlp_only = true, .rel = 5e-2, .loss_rel = 1e-3});
  check_case("qwen3_tiny_a", "wemask_from_me",
             Setting{.device = Device::CUDA, .dtype = DType::BF16, .recompute = true, .recompute_mlp_only = true,
                     .rel = 0.2, .l2 = true, .loss_rel = 1e-2});
  for (const char* c : kCasesB) {
    check_case("qwen3_tiny_b", c, Setting{.device = Device::CUDA, .rel = 5e-2, .loss_rel = 1e-3});
    check_case("qwen3_tiny_b", c, Setting{.device = Device::CUDA, .dtype = DType::BF16, .rel = 0.2, .l2 = true, .loss_rel = 1e-2});
  }
}

}  // namespace
}  // namespace wm
