// Full training-step throughput of wemask on one GPU, as `wemask train` runs it: zero grads,
// forward+backward over the micro-batches (bf16 weights/activations, gradients accumulated in
// bf16), global gradient norm + clip scale, AdamW on fp32 master weights and moments, bf16 weights
// refreshed. Random weights (std ~0.02, norms 1) and random tokens (one document per row).
// Prints ONE JSON line (tools/bench_train.sh collects them):
//   tokens_per_s, mfu (6·N + 12·L·q_dim·S FLOPs per token over 989 TFLOP/s), peak_mem_gib (device
//   memory in use after the steps minus before the model existed: everything wemask allocates up
//   front - weights, grads, master, m, v, activation arena, library workspaces), and a split of
//   one extra synchronised step into forward+backward / grad norm / optimizer seconds.
//   bench_train_step --model 0.6B|1.7B|4B --batch B [--seq 2048] [--accum K] [--recompute | --recompute-mlp]
//                    [--wemask on|off] [--warmup 2] [--steps 5]
//   bench_train_step --model tiny --batch 2 --seq 64 --device cpu   (seconds: checks the step on the CPU backend, F32)
#include <cuda_runtime.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <stdexcept>
#include <string>
#include <vector>

#include "kernels/ops.h"
#include "model/qwen3.h"
#include "trainer/optim/adamw.h"

using namespace wm;
using Clock = std::chrono::steady_clock;

namespace {

struct Args {
  std::string model = "0.6B";
  int64_t batch = 8, seq = 2048, accum = 1;
  bool recompute = false, recompute_mlp_only = false, wemask = true, cpu = false;
  int warmup = 2, steps = 5;
};

Args parse(int argc, char** argv) {
  Args a;
  for (int i = 1; i < argc; ++i) {
    const std::string k = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) throw std::invalid_argument("missing value after " + k);
      return argv[++i];
    };
    if (k == "--model") a.model = value();
    else if (k == "--batch") a.batch = std::stoll(value());
    else if (k == "--seq") a.seq = std::stoll(value());
    else if (k == "--accum") a.accum = std::stoll(value());
    else if (k == "--recompute") a.recompute = true;
    else if (k == "--recompute-mlp") a.recompute = a.recompute_mlp_only = true;
    else if (k == "--wemask") {
      const std::string v = value();
      if (v != "on" && v != "off") throw std::invalid_argument("--wemask takes on|off, not " + v);
      a.wemask = v == "on";
    } else if (k == "--warmup") a.warmup = std::stoi(value());
    else if (k == "--steps") a.steps = std::stoi(value());
    else if (k == "--device") {
      const std::string v = value();
      if (v != "cuda" && v != "cpu") throw std::invalid_argument("--device takes cuda|cpu, not " + v);
      a.cpu = v == "cpu";
    }
    else throw std::invalid_argument("unknown argument " + k);
  }
  if (a.batch < 1 || a.seq < 2 || a.accum < 1 || a.steps < 1 || a.warmup < 0)
    throw std::invalid_argument("batch, accum, steps >= 1, seq >= 2, warmup >= 0");
  return a;
}

Qwen3Config shape(const std::string& name) {  // the Hugging Face Qwen3 shapes (tied embeddings)
  Qwen3Config c;
  c.vocab_size = 151936;
  c.head_dim = 128;
  c.num_attention_heads = 16;
  c.num_key_value_heads = 8;
  if (name == "0.6B") { c.hidden_size = 1024; c.intermediate_size = 3072; c.num_hidden_layers = 28; }
  else if (name == "1.7B") { c.hidden_size = 2048; c.intermediate_size = 6144; c.num_hidden_layers = 28; }
  else if (name == "tiny") { c.vocab_size = 1000; c.hidden_size = 64; c.intermediate_size = 128; c.num_hidden_layers = 8; c.num_attention_heads = 4; c.num_key_value_heads = 2; c.head_dim = 16; }
  else if (name == "4B") { c.hidden_size = 2560; c.intermediate_size = 9728; c.num_hidden_layers = 36; c.num_attention_heads = 32; }
  else throw std::invalid_argument("unknown --model " + name + " (0.6B, 1.7B, 4B, tiny)");
  return c;
}

// Fills every weight from one device block of uniform(-a, a) values (std 0.02), read at a
// different offset per parameter and chunk; norm weights are 1. Fast for billions of weights.
void random_weights(ParamStore& store) {
  constexpr int64_t kBlock = int64_t{1} << 24;
  OwnedTensor host({kBlock}, DType::F32, Device::CPU), host_c({kBlock}, store.dtype(), Device::CPU);
  uint64_t state = 12345;
  const float a = 0.02f * 1.7320508f;
  for (auto& v : host.span<float>()) {
    state = state * 6364136223846793005ULL + 1442695040888963407ULL;
    v = (static_cast<float>(state >> 40) / 16777216.0f * 2.0f - 1.0f) * a;
  }
  ops::convert(host_c.t(), host.t());
  OwnedTensor block({kBlock}, store.dtype(), store.device());
  ops::copy(block.t(), host_c.t());
  for (size_t i = 0; i < store.specs().size(); ++i) {
    const Tensor p = store.param(i);
    const Tensor flat(p.data, {p.numel()}, p.dtype, p.device);
    if (store.specs()[i].kind == ParamKind::Norm) { ops::fill(flat, 1.0); continue; }
    for (int64_t begin = 0, chunk = 0; begin < flat.numel(); begin += kBlock / 2, ++chunk) {
      const int64_t n = std::min(kBlock / 2, flat.numel() - begin);
      const int64_t from = static_cast<int64_t>((i * 7919 + static_cast<size_t>(chunk) * 104729) % (kBlock / 2));
      ops::copy(flat.slice(begin, begin + n), block.t().slice(from, from + n));
    }
  }
}

double device_used_bytes(Device device) {
  if (device != Device::CUDA) return 0;
  size_t free_b = 0, total_b = 0;
  if (cudaMemGetInfo(&free_b, &total_b) != cudaSuccess) throw std::runtime_error("cudaMemGetInfo failed");
  return static_cast<double>(total_b - free_b);
}

std::string json_escaped(const std::string& text) {
  std::string out;
  for (char c : text) {
    if (c == '"' || c == '\\') out += '\\';
    out += (c == '\n' ? ' ' : c);
  }
  return out;
}

double seconds(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

}  // namespace

int main(int argc, char** argv) {
  try {
    const Args args = parse(argc, argv);
    const Device device = args.cpu ? Device::CPU : Device::CUDA;
    if (device == Device::CUDA) {
      if (!cuda_available()) throw std::runtime_error("no CUDA device (--device cpu runs the tiny check)");
      cudaFree(nullptr);  // create the context, so the baseline below excludes it
    }
    const double used_before = device_used_bytes(device);
    const Qwen3Config cfg = shape(args.model);

    ModelOptions opt;
    opt.device = device;
    opt.dtype = device == Device::CUDA ? DType::BF16 : DType::F32;  // the CPU backend computes in F32
    opt.recompute = args.recompute;
    opt.recompute_mlp_only = args.recompute_mlp_only;
    opt.max_tokens = args.batch * args.seq;
    opt.loss_chunk = std::min<int64_t>(2048, opt.max_tokens);
    Qwen3Model model(cfg, opt);
    random_weights(model.params());
    if (args.wemask) {  // the shipped configs' block: ME layer 6, from_me, 1% of dims, gamma 1 (tiny: 3)
      WeMaskSpec spec;
      spec.enabled = true;
      spec.layers = resolve_wemask_layers("from_me", args.model == "tiny" ? 3 : 6,
                                          static_cast<int>(cfg.num_hidden_layers));
      spec.mask_rate = 0.01;
      spec.gamma = 1.0;
      spec.select = WeMaskSelect::Activation;
      spec.validate(static_cast<int>(cfg.num_hidden_layers), cfg.hidden_size);
      model.wemask() = WeMask(spec, static_cast<int>(cfg.num_hidden_layers), cfg.hidden_size, device);
    }
    ParamStore& store = model.params();
    OptimizerOptions oo;
    oo.weight_decay = 0.01;
    AdamW optimizer(store.flat_params(), store.flat_grads(), decay_segments(store, true), oo);

    // Micro-batches of random tokens; weights make the loss the mean over the global batch.
    const float weight = 1.0f / static_cast<float>(args.accum * args.batch * (args.seq - 1));
    std::vector<Batch> micro;
    uint64_t s = 7;
    for (int64_t m = 0; m < args.accum; ++m) {
      std::vector<std::vector<std::vector<int32_t>>> rows(args.batch);
      for (auto& r : rows) {
        std::vector<int32_t> doc(args.seq);
        for (auto& t : doc) { s = s * 6364136223846793005ULL + 1; t = static_cast<int32_t>((s >> 33) % cfg.vocab_size); }
        r.push_back(std::move(doc));
      }
      micro.emplace_back(pack_documents(rows, args.seq, 0, weight), device);
    }

    double loss = 0, grad_norm = 0;
    auto step = [&] {
      store.zero_grad();
      loss = 0;
      for (const auto& b : micro) loss += model.forward_backward(b);
      grad_norm = global_grad_norm(store.flat_grads());
      optimizer.step(1e-5, clip_scale(grad_norm, 1.0));
    };
    for (int i = 0; i < args.warmup; ++i) step();
    ops::synchronize(device);
    const auto t0 = Clock::now();
    for (int i = 0; i < args.steps; ++i) step();
    ops::synchronize(device);
    const double step_s = seconds(t0) / args.steps;
    const double first_loss = loss;

    // One more step, synchronised between phases, for the split.
    auto t = Clock::now();
    store.zero_grad();
    for (const auto& b : micro) model.forward_backward(b);
    ops::synchronize(device);
    const double fb_s = seconds(t);
    t = Clock::now();
    grad_norm = global_grad_norm(store.flat_grads());
    const double norm_s = seconds(t);
    t = Clock::now();
    optimizer.step(1e-5, clip_scale(grad_norm, 1.0));
    ops::synchronize(device);
    const double opt_s = seconds(t);
    const double peak_gib = (device_used_bytes(device) - used_before) / 1073741824.0;

    const double tokens = static_cast<double>(args.accum * args.batch * args.seq);
    const double tok_s = tokens / step_s;
    const double flops_per_token = 6.0 * static_cast<double>(cfg.matmul_params()) +
                                   12.0 * static_cast<double>(cfg.num_hidden_layers * cfg.q_dim() * args.seq);
    const double n = static_cast<double>(store.padded_numel());
    const double state_gib = n * (2 * dtype_size(store.dtype()) + 3 * 4) / 1073741824.0;
    std::printf("{\"kind\":\"wemask_train_step\",\"device\":\"%s\",\"model\":\"%s\",\"batch\":%lld,\"accum\":%lld,\"seq\":%lld,"
                "\"recompute\":%s,\"recompute_scope\":\"%s\",\"wemask\":%s,\"steps\":%d,\"step_s\":%.4f,\"tokens_per_s\":%.0f,\"mfu\":%.4f,"
                "\"peak_mem_gib\":%.2f,\"state_gib\":%.2f,\"activation_gib\":%.2f,\"fb_s\":%.4f,\"norm_s\":%.4f,"
                "\"opt_s\":%.4f,\"loss\":%.4f,\"grad_norm\":%.4f}\n",
                device_name(device), args.model.c_str(), static_cast<long long>(args.batch), static_cast<long long>(args.accum),
                static_cast<long long>(args.seq), args.recompute ? "true" : "false",
                !args.recompute ? "none" : args.recompute_mlp_only ? "mlp" : "layer", args.wemask ? "true" : "false",
                args.steps, step_s, tok_s, tok_s * flops_per_token / 989e12, peak_gib, state_gib,
                model.activation_bytes() / 1073741824.0, fb_s, norm_s, opt_s, first_loss, grad_norm);
    return 0;
  } catch (const std::exception& e) {
    std::printf("{\"kind\":\"wemask_train_step\",\"error\":\"%s\"}\n", json_escaped(e.what()).c_str());
    std::fprintf(stderr, "bench_train_step: %s\n", e.what());
    return 1;
  }
}
