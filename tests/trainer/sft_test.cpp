// SFT loop tests: micro-batch loss weights, random init, and the `wemask train` binary end to end
// (exact resume after a SIGKILL, NaN guard, the tiny demo learns, plot and checkpoint export).
#include <gtest/gtest.h>

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmath>
#include <cstring>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>

#include "trainer/checkpoint/checkpoint.h"
#include "trainer/metrics/metrics_log.h"
#include "trainer/sft/micro_batches.h"
#include "trainer/sft/random_init.h"

using namespace wm;
namespace fs = std::filesystem;

namespace {

const std::string kSource = WEMASK_SOURCE_DIR;
const std::string kTokenizer = kSource + "/assets/qwen3-tokenizer";

bool have_tokenizer() { return fs::exists(kTokenizer + "/tokenizer.json"); }

fs::path fresh_dir(const std::string& name) {
  fs::path dir = fs::temp_directory_path() / ("wm_sft_" + name + "_" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir;
}

std::string slurp(const fs::path& p) {
  std::ifstream in(p);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Runs `wemask ARGS` from the source dir; output goes to `log`. Returns the exit status.
int run_wemask(const std::string& args, const fs::path& log) {
  const std::string cmd = "cd '" + kSource + "' && '" + WEMASK_BINARY + "' " + args + " > '" + log.string() + "' 2>&1";
  const int rc = std::system(cmd.c_str());
  return WIFEXITED(rc) ? WEXITSTATUS(rc) : 128 + WTERMSIG(rc);
}

// A pre-tokenised data set (ids < 256) with a simple learnable pattern.
void write_token_data(const fs::path& path, int examples, uint32_t seed) {
  std::mt19937 rng(seed);
  std::ofstream out(path);
  for (int e = 0; e < examples; ++e) {
    const int len = 12 + static_cast<int>(rng() % 40), start = static_cast<int>(rng() % 200);
    out << "{\"input_ids\": [";
    for (int i = 0; i < len; ++i) out << (i ? ", " : "") << (start + i) % 256;
    out << "]}\n";
  }
}

// A tiny random-init model on token data: fast enough for several runs per test.
fs::path write_tiny_config(const fs::path& dir) {
  write_token_data(dir / "train.jsonl", 64, 1);
  const fs::path cfg = dir / "tiny.yaml";
  std::ofstream(cfg) << "model:\n  init_seed: 3\n  config: {vocab_size: 256, hidden_size: 32, intermediate_size: 64,\n"
                        "    num_hidden_layers: 2, num_attention_heads: 4, num_key_value_heads: 2, head_dim: 8}\n"
                        "data:\n  train_file: " << (dir / "train.jsonl").string() << "\n  tokenizer: " << kTokenizer
                     << "\n  format: tokens\n  max_length: 64\n"
                        "train:\n  micro_batch_size: 2\n  global_batch_size: 4\n  max_steps: 6\n  precision: fp32\n"
                        "  device: cpu\n  seed: 7\n"
                        "optim:\n  lr: 1.0e-2\n  weight_decay: 0.1\n"
                        "schedule:\n  type: cosine\n  warmup_steps: 2\n"
                        "checkpoint:\n  every_steps: 3\n  keep_last: 5\n  resume: auto\n  export_at_end: false\n";
  return cfg;
}

std::vector<nlohmann::json> losses_of(const fs::path& metrics) {
  std::vector<nlohmann::json> out;
  for (auto& r : read_metrics(metrics.string()))
    if (r.contains("loss")) out.push_back(r);
  return out;
}

}  // namespace

TEST(SftMicroBatches, LossNormalisedOverTheWholeGlobalBatch) {
  // 4 rows of 4 tokens; row 0 has 3 loss tokens, row 1 has 1, rows 2-3 have 2 each: 8 in total.
  PackedBatch g;
  g.rows = 4;
  g.seq = 4;
  const int T = 16;
  g.tokens.assign(T, 5);
  g.positions.assign(T, 0);
  g.is_padding.assign(T, 0);
  g.targets = {1, 2, 3, -100, 4, -100, -100, -100, 1, 1, -100, -100, -100, -100, 2, 2};
  for (int t = 0; t < T; ++t) {
    g.doc_start.push_back(t / 4 * 4);
    g.positions[t] = t % 4;
  }
  g.loss_tokens = 8;
  auto micro = split_micro_batches(g, 2);
  ASSERT_EQ(micro.size(), 2u);
  double total = 0;
  for (const auto& m : micro) {
    EXPECT_EQ(m.rows, 2);
    EXPECT_NO_THROW(m.validate());
    for (size_t t = 0; t < m.loss_weight.size(); ++t) {
      if (m.targets[t] == -100) EXPECT_EQ(m.loss_weight[t], 0.0f);
      else EXPECT_FLOAT_EQ(m.loss_weight[t], 1.0f / 8.0f);  // not 1/4 (per-micro-batch mean)
      total += m.loss_weight[t];
    }
  }
  EXPECT_NEAR(total, 1.0, 1e-6);
  EXPECT_EQ(micro[1].doc_start[0], 0);  // re-based to the micro-batch
  EXPECT_EQ(micro[1].doc_start[5], 4);
  EXPECT_THROW(split_micro_batches(g, 3), std::invalid_argument);
}

TEST(SftRandomInit, DeterministicAndNormsAreOne) {
  Qwen3Config c;
  c.vocab_size = 64;
  c.hidden_size = 16;
  c.intermediate_size = 32;
  c.num_hidden_layers = 1;
  c.num_attention_heads = 2;
  c.num_key_value_heads = 1;
  c.head_dim = 8;
  ParamStore a(c, DType::F32, Device::CPU), b(c, DType::F32, Device::CPU), other(c, DType::F32, Device::CPU);
  init_random_weights(a, 5);
  init_random_weights(b, 5);
  init_random_weights(other, 6);
  auto pa = a.flat_params().span<float>(), pb = b.flat_params().span<float>(), po = other.flat_params().span<float>();
  bool differs = false;
  for (size_t i = 0; i < pa.size(); ++i) {
    ASSERT_EQ(pa[i], pb[i]);
    differs |= pa[i] != po[i];
  }
  EXPECT_TRUE(differs);
  for (float v : a.param("model.layers.0.input_layernorm.weight").span<float>()) EXPECT_EQ(v, 1.0f);
  double sq = 0;
  auto emb = a.param("model.embed_tokens.weight").span<float>();
  for (float v : emb) sq += v * v;
  EXPECT_NEAR(std::sqrt(sq / emb.size()), 0.02, 0.004);
}

// 6 steps straight vs 3 steps + a crash during step 5 (SIGKILL after its update, before any
// checkpoint) + resume: auto (from step 3) to step 6: bit-identical master weights and moments.
TEST(SftTrain, ExactResumeAfterKillIsBitIdentical) {
  if (!have_tokenizer()) GTEST_SKIP() << "run launch/fetch_assets.sh (needs " << kTokenizer << ")";
  const fs::path dir = fresh_dir("resume");
  const fs::path cfg = write_tiny_config(dir);
  const std::string straight = (dir / "straight").string(), resumed = (dir / "resumed").string();
  ASSERT_EQ(run_wemask("train " + cfg.string() + " --set output_dir=" + straight, dir / "a.log"), 0)
      << slurp(dir / "a.log");
  const int killed = run_wemask("train " + cfg.string() + " --set output_dir=" + resumed + " --set debug.kill_at_step=5",
                                dir / "b1.log");
  EXPECT_EQ(killed, 128 + SIGKILL) << slurp(dir / "b1.log");
  auto latest = latest_checkpoint(resumed);
  ASSERT_TRUE(latest.has_value());
  EXPECT_EQ(*latest, checkpoint_dir(resumed, 3));
  ASSERT_EQ(run_wemask("train " + cfg.string() + " --set output_dir=" + resumed, dir / "b2.log"), 0)
      << slurp(dir / "b2.log");
  EXPECT_NE(slurp(dir / "b2.log").find("resumed from"), std::string::npos);

  LoadedCheckpoint a(checkpoint_dir(straight, 6)), b(checkpoint_dir(resumed, 6));
  ASSERT_EQ(a.numel(), b.numel());
  EXPECT_EQ(a.state().tokens_seen, b.state().tokens_seen);
  EXPECT_EQ(a.state().loader_state, b.state().loader_state);
  // The manifests hash every file: equal hashes of master.bin / adam_m.bin / adam_v.bin.
  auto manifest = [](const fs::path& d) { return nlohmann::json::parse(slurp(d / "COMPLETE"))["files"]; };
  auto ma = manifest(checkpoint_dir(straight, 6)), mb = manifest(checkpoint_dir(resumed, 6));
  for (const char* f : {"master.bin", "adam_m.bin", "adam_v.bin"}) EXPECT_EQ(ma[f], mb[f]) << f;
  int64_t mismatches = 0;
  for (int64_t i = 0; i < a.numel(); ++i) mismatches += std::memcmp(&a.master()[i], &b.master()[i], 4) != 0;
  EXPECT_EQ(mismatches, 0);
  // And training moved the weights (the comparison is not vacuous).
  LoadedCheckpoint early(checkpoint_dir(straight, 3));
  int64_t moved = 0;
  for (int64_t i = 0; i < a.numel(); ++i) moved += a.master()[i] != early.master()[i];
  EXPECT_GT(moved, a.numel() / 2);
  fs::remove_all(dir);
}

TEST(SftTrain, NonFiniteLossStopsWithoutCheckpointOrSkips) {
  if (!have_tokenizer()) GTEST_SKIP() << "run launch/fetch_assets.sh (needs " << kTokenizer << ")";
  const fs::path dir = fresh_dir("nan");
  const fs::path cfg = write_tiny_config(dir);
  const std::string out = (dir / "err").string();
  const int rc = run_wemask("train " + cfg.string() + " --set output_dir=" + out +
                                " --set checkpoint.every_steps=1 --set debug.inject_nan_at_step=2",
                            dir / "err.log");
  const std::string log = slurp(dir / "err.log");
  EXPECT_NE(rc, 0) << log;
  EXPECT_NE(log.find("step 2: non-finite loss"), std::string::npos) << log;
  auto all = list_checkpoints(out);
  ASSERT_EQ(all.size(), 1u);
  EXPECT_EQ(all[0].first, 1);  // step 1 saved, the poisoned step 2 never
  for (const auto& e : fs::directory_iterator(checkpoint_root(out)))
    EXPECT_EQ(e.path().filename().string().rfind(".tmp-", 0), std::string::npos);

  const std::string skip = (dir / "skip").string();
  ASSERT_EQ(run_wemask("train " + cfg.string() + " --set output_dir=" + skip +
                           " --set train.on_nonfinite=skip --set debug.inject_nan_at_step=2",
                       dir / "skip.log"),
            0)
      << slurp(dir / "skip.log");
  LoadedCheckpoint last(checkpoint_dir(skip, 6));
  EXPECT_EQ(last.state().skipped_steps, 1);
  fs::remove_all(dir);
}

TEST(SftTrain, BadConfigFailsBeforeWork) {
  const fs::path dir = fresh_dir("badcfg");
  const fs::path cfg = dir / "bad.yaml";
  std::ofstream(cfg) << "model:\n  path: /nonexistent/model\ndata:\n  train_file: /nonexistent/train.jsonl\n"
                        "optim:\n  lr: 1e-5\n  weight_decy: 0.1\n";
  EXPECT_NE(run_wemask("train " + cfg.string(), dir / "log"), 0);
  std::string log = slurp(dir / "log");
  EXPECT_NE(log.find("did you mean 'optim.weight_decay'"), std::string::npos) << log;
  std::ofstream(cfg) << "model:\n  path: /nonexistent/model\ndata:\n  train_file: /nonexistent/train.jsonl\n";
  EXPECT_NE(run_wemask("train " + cfg.string() + " --set output_dir=" + (dir / "o").string(), dir / "log"), 0);
  log = slurp(dir / "log");
  EXPECT_NE(log.find("/nonexistent/model"), std::string::npos) << log;
  EXPECT_NE(log.find("/nonexistent/train.jsonl"), std::string::npos) << log;
  fs::remove_all(dir);
}

// The tiny CPU demo (configs/tiny_cpu_sft.yaml), shortened: the loss must fall well below its start.
// Then `wemask plot` and `wemask export --checkpoint` on what it wrote.
TEST(SftTrain, TinyDemoLearns) {
  if (!have_tokenizer()) GTEST_SKIP() << "run launch/fetch_assets.sh (needs " << kTokenizer << ")";
  const fs::path dir = fresh_dir("demo");
  const std::string out = (dir / "run").string();
  ASSERT_EQ(run_wemask("train configs/tiny_cpu_sft.yaml --set output_dir=" + out +
                           " --set train.max_steps=12 --set eval.every_steps=12 --set eval.max_batches=2"
                           " --set checkpoint.every_steps=6",
                       dir / "train.log"),
            0)
      << slurp(dir / "train.log");
  auto losses = losses_of(fs::path(out) / "metrics.jsonl");
  ASSERT_EQ(losses.size(), 12u);
  const double first = losses.front()["loss"].get<double>();
  double last3 = 0;
  for (size_t i = losses.size() - 3; i < losses.size(); ++i) last3 += losses[i]["loss"].get<double>() / 3;
  EXPECT_GT(first, 11.0);        // ~ln(151936) at random init
  EXPECT_LT(last3, first - 1.5) << "loss " << first << " -> " << last3;
  EXPECT_TRUE(fs::exists(fs::path(out) / "final" / "config.json"));
  EXPECT_TRUE(fs::exists(fs::path(out) / "config.yaml"));

  ASSERT_EQ(run_wemask("plot " + out + "/metrics.jsonl --output " + (dir / "curves.svg").string(), dir / "plot.log"), 0)
      << slurp(dir / "plot.log");
  EXPECT_NE(slurp(dir / "curves.svg").find("<svg"), std::string::npos);
  const std::string exported = (dir / "hf").string();
  ASSERT_EQ(run_wemask("export --checkpoint " + checkpoint_dir(out, 6).string() + " --output " + exported +
                           " --dtype f32",
                       dir / "export.log"),
            0)
      << slurp(dir / "export.log");
  EXPECT_TRUE(fs::exists(fs::path(exported) / "config.json"));
  EXPECT_TRUE(fs::exists(fs::path(exported) / "tokenizer.json"));
  fs::remove_all(dir);
}

// The WeMask block reaches the model: an explicit ME layer resolves to the masked layers, and
// `me_layer: auto` runs the detector (a random tiny model has no ME layer: a clear error).
TEST(SftTrain, WeMaskBlockIsApplied) {
  if (!have_tokenizer()) GTEST_SKIP() << "run launch/fetch_assets.sh (needs " << kTokenizer << ")";
  const fs::path dir = fresh_dir("wemask");
  const fs::path cfg = write_tiny_config(dir);
  const std::string common = "train " + cfg.string() + " --set train.max_steps=2 --set wemask.enabled=true"
                             " --set wemask.mask_rate=0.125";
  ASSERT_EQ(run_wemask(common + " --set output_dir=" + (dir / "a").string() + " --set wemask.me_layer=1"
                                    " --set wemask.layers=me_only",
                       dir / "a.log"),
            0)
      << slurp(dir / "a.log");
  std::string log = slurp(dir / "a.log");
  EXPECT_NE(log.find("wemask: ME layer 1, 1 masked layer(s), 4 dims"), std::string::npos) << log;
  ASSERT_EQ(run_wemask(common + " --set output_dir=" + (dir / "b").string() + " --set wemask.me_layer=0",
                       dir / "b.log"),
            0)
      << slurp(dir / "b.log");
  EXPECT_NE(slurp(dir / "b.log").find("wemask: ME layer 0, 2 masked layer(s)"), std::string::npos);
  EXPECT_NE(run_wemask(common + " --set output_dir=" + (dir / "c").string() + " --set wemask.me_layer=2",
                       dir / "c.log"),
            0);
  EXPECT_NE(slurp(dir / "c.log").find("wemask.me_layer"), std::string::npos) << slurp(dir / "c.log");
  const int rc = run_wemask(common + " --set output_dir=" + (dir / "d").string(), dir / "d.log");
  log = slurp(dir / "d.log");
  if (rc != 0) EXPECT_NE(log.find("me_layer: auto"), std::string::npos) << log;
  else EXPECT_NE(log.find("wemask: detected ME layer"), std::string::npos) << log;
  fs::remove_all(dir);
}
