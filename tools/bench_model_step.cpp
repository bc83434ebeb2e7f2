// Training-step throughput of Qwen3Model on one GPU: random weights (bf16), B x S tokens of one
// document per row, forward_backward timed after warm-up (no optimizer step). Prints one JSON line
// per setting. H100 (2026-11-22): 0.6B 8x2048 66.2k tok/s (recompute 54.5k), 1.7B 4x2048 39.0k,
// 4B 2x2048 + recompute 13.7k. Run through WEMASK_BENCH=... tools/gpu_model_test.sh, or the CMake
// target bench_model_step (tools/gpu_session.sh).
//   bench_model_step [0.6B|1.7B|4B] [B] [S] [recompute 0|1] [wemask_from_layer] [mask_rate]
// With wemask_from_layer >= 0 the same model is timed with WeMask off and on (layers
// from..last, mask_rate default 0.01, gamma 1), interleaved over several rounds; the median step
// time of each is printed and their ratio as the WeMask overhead.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <algorithm>
#include <string>
#include <vector>

#include "kernels/ops.h"
#include "model/qwen3.h"

using namespace wm;

namespace {

Qwen3Config shape(const std::string& name) {
  Qwen3Config c;  // defaults are Qwen3-0.6B's
  c.vocab_size = 151936;
  c.head_dim = 128;
  c.num_attention_heads = 16;
  c.num_key_value_heads = 8;
  if (name == "0.6B") { c.hidden_size = 1024; c.intermediate_size = 3072; c.num_hidden_layers = 28; }
  else if (name == "1.7B") { c.hidden_size = 2048; c.intermediate_size = 6144; c.num_hidden_layers = 28; }
  else if (name == "4B") { c.hidden_size = 2560; c.intermediate_size = 9728; c.num_hidden_layers = 36; c.num_attention_heads = 32; }
  else { std::fprintf(stderr, "unknown size %s\n", name.c_str()); std::exit(2); }
  return c;
}

}  // namespace

int main(int argc, char** argv) {
  const std::string size = argc > 1 ? argv[1] : "0.6B";
  const int64_t B = argc > 2 ? std::atoll(argv[2]) : 4, S = argc > 3 ? std::atoll(argv[3]) : 2048;
  const bool recompute = argc > 4 && std::atoi(argv[4]) != 0;
  const int wemask_from = argc > 5 ? std::atoi(argv[5]) : -1;
  const double mask_rate = argc > 6 ? std::atof(argv[6]) : 0.01;
  const Qwen3Config cfg = shape(size);
  ModelOptions opt;
  opt.device = Device::CUDA;
  opt.dtype = DType::BF16;
  opt.recompute = recompute;
  opt.max_tokens = B * S;
  opt.loss_chunk = 2048;
  Qwen3Model model(cfg, opt);
  {  // random weights: uniform(-0.02, 0.02), norms 1 (filled on the host in f32, converted)
    ParamStore host(cfg, DType::F32, Device::CPU);
    uint64_t state = 12345;
    for (size_t i = 0; i < host.specs().size(); ++i) {
      float* p = host.param(i).ptr<float>();
      const bool norm = host.specs()[i].kind == ParamKind::Norm;
      for (int64_t j = 0; j < host.param(i).numel(); ++j) {
        state = state * 6364136223846793005ULL + 1442695040888963407ULL;
        p[j] = norm ? 1.0f : (static_cast<float>(state >> 40) / 16777216.0f - 0.5f) * 0.04f;
      }
    }
    model.params().load(host.params(), "random");
  }
  std::vector<std::vector<std::vector<int32_t>>> rows(B);
  uint64_t s = 7;
  for (auto& r : rows) {
    std::vector<int32_t> doc(S);
    for (auto& t : doc) { s = s * 6364136223846793005ULL + 1; t = static_cast<int32_t>((s >> 33) % cfg.vocab_size); }
    r.push_back(doc);
  }
  Batch batch(pack_documents(rows, S), Device::CUDA);
  auto step = [&] {
    model.params().zero_grad();
    return model.forward_backward(batch);
  };
  // WEMASK_BENCH_STEPS: timed steps per measurement (default 5; 1 for a profiler run)
  const int steps = std::getenv("WEMASK_BENCH_STEPS") ? std::max(1, std::atoi(std::getenv("WEMASK_BENCH_STEPS"))) : 5;
  auto time_steps = [&](double& loss) {  // mean seconds per step over `steps` steps, after one warm-up step
    step();
    ops::synchronize(Device::CUDA);
    const auto t0 = std::chrono::steady_clock::now();
    for (int i = 0; i < steps; ++i) loss = step();
    ops::synchronize(Device::CUDA);
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count() / steps;
  };
  auto median = [](std::vector<double> v) {
    std::sort(v.begin(), v.end());
    return v[v.size() / 2];
  };
  const double flops_per_token = 6.0 * static_cast<double>(cfg.matmul_params()) +
                                 12.0 * cfg.num_hidden_layers * cfg.q_dim() * static_cast<double>(S);
  auto report = [&](const char* wemask, double dt, double loss) {
    const double tokens = static_cast<double>(B * S) / dt;
    std::printf("{\"kind\":\"wemask_train_step_bf16\",\"model\":\"%s\",\"bsz\":%lld,\"seq\":%lld,\"recompute\":%s,"
                "\"wemask\":\"%s\",\"step_s\":%.4f,\"tokens_per_s\":%.0f,\"mfu\":%.4f,\"activation_gib\":%.2f,"
                "\"loss\":%.3f}\n",
                size.c_str(), static_cast<long long>(B), static_cast<long long>(S), recompute ? "true" : "false",
                wemask, dt, tokens, tokens * flops_per_token / 989e12, model.activation_bytes() / 1073741824.0, loss);
  };
  step();  // first call: plans the arena, warms cuBLAS
  if (wemask_from < 0) {
    double loss = 0;
    report("off", time_steps(loss), loss);
    return 0;
  }
  WeMaskSpec spec;
  spec.enabled = true;
  spec.layers = resolve_wemask_layers("from_me", wemask_from, static_cast<int>(cfg.num_hidden_layers));
  spec.mask_rate = mask_rate;
  spec.gamma = 1.0;
  spec.validate(static_cast<int>(cfg.num_hidden_layers), cfg.hidden_size);
  const int layers = static_cast<int>(cfg.num_hidden_layers);
  std::vector<double> t_off, t_on;
  double loss_off = 0, loss_on = 0;
  for (int round = 0; round < 5; ++round) {  // interleaved so that clock/thermal drift hits both
    model.wemask() = WeMask(WeMaskSpec{}, layers, cfg.hidden_size, Device::CUDA);
    t_off.push_back(time_steps(loss_off));
    model.wemask() = WeMask(spec, layers, cfg.hidden_size, Device::CUDA);
    t_on.push_back(time_steps(loss_on));
  }
  const double dt_off = median(t_off), dt_on = median(t_on);
  report("off", dt_off, loss_off);
  report("on", dt_on, loss_on);
  std::printf("{\"kind\":\"wemask_overhead\",\"model\":\"%s\",\"bsz\":%lld,\"seq\":%lld,\"from_layer\":%d,"
              "\"masked_layers\":%zu,\"dims\":%lld,\"step_s_off\":%.5f,\"step_s_on\":%.5f,\"ratio\":%.4f,"
              "\"overhead_pct\":%.2f}\n",
              size.c_str(), static_cast<long long>(B), static_cast<long long>(S), wemask_from, spec.layers.size(),
              static_cast<long long>(spec.num_dims(cfg.hidden_size)), dt_off, dt_on, dt_on / dt_off,
              100.0 * (dt_on / dt_off - 1.0));
  return 0;
}
