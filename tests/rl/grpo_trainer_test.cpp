// GRPO trainer: sequence batches, config errors, a tiny model learning one-digit sums from the
// reward alone, bit-identical resume, reference identity on resume, NaN guard, and `wemask grpo`.
#include <gtest/gtest.h>

#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <numeric>
#include <sstream>

#include "rl/grpo_config.h"
#include "rl/grpo_trainer.h"
#include "rl/sequence_batch.h"
#include "trainer/checkpoint/checkpoint.h"
#include "trainer/config/config_value.h"
#include "trainer/metrics/metrics_log.h"

namespace wm::rl {
namespace {

namespace fs = std::filesystem;
const std::string kSource = WEMASK_SOURCE_DIR;
const std::string kToyConfig = kSource + "/configs/tiny_cpu_grpo.yaml";

fs::path fresh_dir(const std::string& name) {
  fs::path dir = fs::temp_directory_path() / ("wm_grpo_" + name + "_" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir;
}

// The tiny demo config (data path made absolute), with overrides.
GrpoConfig toy_config(const fs::path& out, std::vector<std::string> sets) {
  sets.push_back("data.train_file=" + kSource + "/data/samples/toy_sum_prompts.jsonl");
  sets.push_back("output_dir=" + out.string());
  sets.push_back("logging.level=warn");
  return GrpoConfig::load(kToyConfig, sets);
}

std::string config_error(const std::string& yaml, std::vector<std::string> sets = {}) {
  try {
    GrpoConfig::from_text(yaml, sets).check_files();
  } catch (const config::ConfigError& e) {
    return e.what();
  }
  return "";
}

TEST(GrpoSequenceBatch, TargetsAreTheResponseTokens) {
  const std::vector<int32_t> p0 = {5, 6, 7}, r0 = {8, 9}, p1 = {1}, r1 = {2, 3, 4};
  SequenceBatch b = build_sequence_batch({p0, p1}, {r0, r1});
  ASSERT_EQ(b.host.num_tokens(), 9);
  EXPECT_EQ(b.host.tokens, (std::vector<int32_t>{5, 6, 7, 8, 9, 1, 2, 3, 4}));
  const int32_t I = kIgnoreIndex;
  EXPECT_EQ(b.host.targets, (std::vector<int32_t>{I, I, 8, 9, I, 2, 3, 4, I}));
  EXPECT_EQ(b.host.positions, (std::vector<int32_t>{0, 1, 2, 3, 4, 0, 1, 2, 3}));
  EXPECT_EQ(b.host.sink_rows(), (std::vector<int32_t>{0, 5}));
  EXPECT_EQ(b.seq_offsets, (std::vector<int64_t>{0, 2, 5}));
  EXPECT_EQ(b.target_row, (std::vector<int64_t>{2, 3, 5, 6, 7}));
  std::vector<double> token_loss(9, 0.0);
  for (size_t i = 0; i < b.target_row.size(); ++i) token_loss[b.target_row[i]] = 0.5 + static_cast<double>(i);
  const auto logp = response_logp(b, token_loss);
  EXPECT_EQ(logp, (std::vector<float>{-0.5f, -1.5f, -2.5f, -3.5f, -4.5f}));
  const std::vector<float> d = {1, 2, 3, 4, 5};
  const auto g = token_loss_grad(b, d, 0.5);  // d/d(token_loss) = -d/dlogp
  EXPECT_EQ(g, (std::vector<float>{0, 0, -0.5f, -1, 0, -1.5f, -2, -2.5f, 0}));
  EXPECT_THROW(build_sequence_batch({p0}, {std::span<const int32_t>()}), std::invalid_argument);
}

TEST(GrpoConfigTest, ErrorsNameTheKey) {
  const std::string base = "model:\n  config: {vocab_size: 16, hidden_size: 32, intermediate_size: 64,\n"
                           "    num_hidden_layers: 2, num_attention_heads: 4, num_key_value_heads: 2, head_dim: 8}\n"
                           "data:\n  format: tokens\n  train_file: " + kSource + "/data/samples/toy_sum_prompts.jsonl\n"
                           "rollout:\n  stop_ids: [12]\n"
                           "grpo:\n  prompts_per_step: 8\n  mini_batch_size: 4\n  micro_batch_size: 8\n";
  EXPECT_EQ(config_error(base), "");
  auto has = [](const std::string& msg, const std::string& part) {
    return msg.find(part) != std::string::npos;
  };
  std::string e = config_error(base, {"grpo.kl_coeff=0.1"});
  EXPECT_TRUE(has(e, "grpo.kl_coeff") && has(e, "grpo.kl_coef")) << e;
  e = config_error(base, {"grpo.mini_batch_size=3"});
  EXPECT_TRUE(has(e, "grpo.mini_batch_size") && has(e, "does not divide")) << e;
  e = config_error(base, {"grpo.micro_batch_size=5"});
  EXPECT_TRUE(has(e, "grpo.micro_batch_size")) << e;
  e = config_error(base, {"rollout.n=1"});
  EXPECT_TRUE(has(e, "rollout.n")) << e;
  e = config_error(base, {"grpo.kl_estimator=k4"});
  EXPECT_TRUE(has(e, "grpo.kl_estimator") && has(e, "low_var_kl")) << e;
  e = config_error(base, {"grpo.loss_agg_mode=mean"});
  EXPECT_TRUE(has(e, "grpo.loss_agg_mode")) << e;
  e = config_error(base, {"reward.terms=gsm8k+format*2"});
  EXPECT_TRUE(has(e, "reward.terms")) << e;
  e = config_error(base, {"rollout.stop_ids=auto"});
  EXPECT_TRUE(has(e, "rollout.stop_ids") && has(e, "tokenizer")) << e;
  e = config_error(base, {"data.train_file=/nonexistent/prompts.jsonl"});
  EXPECT_TRUE(has(e, "data.train_file") && has(e, "/nonexistent/prompts.jsonl")) << e;
  e = config_error(base, {"wemask.enabled=true", "wemask.me_layer=5"});
  EXPECT_TRUE(has(e, "wemask.me_layer")) << e;
  e = config_error(base, {"train.max_steps=0"});
  EXPECT_TRUE(has(e, "train.max_steps")) << e;
  // A bad prompt line names file and line.
  const fs::path dir = fresh_dir("badprompt");
  std::ofstream(dir / "p.jsonl") << "{\"prompt_ids\": [1, 10, 2, 11], \"answer\": \"3\"}\n{\"prompt_ids\": [1, 99], \"answer\": \"3\"}\n";
  GrpoConfig cfg = GrpoConfig::from_text(base, std::vector<std::string>{"data.train_file=" + (dir / "p.jsonl").string(),
                                                                        "output_dir=" + (dir / "out").string(),
                                                                        "logging.level=warn"});
  try {
    GrpoTrainer t(cfg);
    FAIL() << "expected an error";
  } catch (const std::exception& ex) {
    EXPECT_TRUE(has(ex.what(), "p.jsonl:2") && has(ex.what(), "99")) << ex.what();
  }
}

double mean_of(const std::vector<double>& v, size_t begin, size_t end) {
  return std::accumulate(v.begin() + begin, v.begin() + end, 0.0) / static_cast<double>(end - begin);
}

TEST(GrpoToyTask, MeanRewardRisesOnOneDigitSums) {
  const fs::path out = fresh_dir("toy");
  GrpoTrainer trainer(toy_config(out, {"checkpoint.resume=none", "checkpoint.every_steps=0"}));
  const GrpoResult r = trainer.run();
  ASSERT_EQ(r.reward_mean.size(), 120u);
  const double first = mean_of(r.reward_mean, 0, 10), last = mean_of(r.reward_mean, 110, 120);
  std::printf("toy sum task: mean reward of steps 1-10 %.3f, of steps 111-120 %.3f\n", first, last);
  EXPECT_LT(first, 0.2);
  EXPECT_GE(last, 0.5);
  // Every logged step has the documented metrics.
  const auto records = read_metrics((out / "metrics.jsonl").string());
  ASSERT_EQ(records.size(), 120u);
  for (const char* k : {"reward_mean", "reward_std", "accuracy", "response_length_mean", "kl", "clip_fraction",
                        "entropy", "rollout_tokens_per_s", "train_tokens_per_s", "rollout_s", "train_s", "loss",
                        "grad_norm"})
    EXPECT_TRUE(records.back().contains(k)) << k;
  EXPECT_EQ(records.back()["updates"].get<int64_t>(), 2);
  EXPECT_GT(records.back()["kl"].get<double>(), 0.0);  // the policy moved away from the reference
  fs::remove_all(out);
}

std::vector<float> checkpoint_master(const fs::path& out, int64_t step) {
  return LoadedCheckpoint(checkpoint_dir(out, step)).master();
}

TEST(GrpoResume, HalfPlusResumePlusHalfIsBitIdentical) {
  const std::vector<std::string> sets = {"train.max_steps=6", "checkpoint.every_steps=3", "checkpoint.keep_last=5",
                                         "checkpoint.resume=auto", "grpo.ppo_epochs=2", "wemask.enabled=true",
                                         "wemask.me_layer=1", "wemask.mask_rate=0.1", "grpo.kl_coef=0.05"};
  const fs::path straight = fresh_dir("straight"), split = fresh_dir("split");
  { GrpoTrainer(toy_config(straight, sets)).run(); }
  {
    GrpoTrainer first(toy_config(split, sets));
    EXPECT_EQ(first.run(3).last_step, 3);
  }
  {
    GrpoTrainer second(toy_config(split, sets));
    EXPECT_EQ(second.completed_steps(), 3);
    EXPECT_EQ(second.run().last_step, 6);
  }
  const auto a = checkpoint_master(straight, 6), b = checkpoint_master(split, 6);
  ASSERT_EQ(a.size(), b.size());
  EXPECT_EQ(std::memcmp(a.data(), b.data(), a.size() * sizeof(float)), 0);
  EXPECT_NE(checkpoint_master(straight, 3), a);  // training changed the weights
  // Same rewards logged for steps 4..6.
  const auto ma = read_metrics((straight / "metrics.jsonl").string()), mb = read_metrics((split / "metrics.jsonl").string());
  ASSERT_EQ(ma.size(), 6u);
  ASSERT_EQ(mb.size(), 6u);
  for (size_t i = 0; i < 6; ++i) EXPECT_EQ(ma[i]["reward_mean"], mb[i]["reward_mean"]) << i;
  // The reference identity is stored and checked: another base (init seed) refuses to resume.
  std::vector<std::string> other = sets;
  other.push_back("model.init_seed=2");
  try {
    GrpoTrainer t(toy_config(split, other));
    FAIL() << "expected a reference mismatch";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("reference model"), std::string::npos) << e.what();
  }
  fs::remove_all(straight);
  fs::remove_all(split);
}

TEST(GrpoNanGuard, ErrorStopsWithoutCheckpointSkipContinues) {
  const fs::path out = fresh_dir("nan");
  const std::vector<std::string> sets = {"train.max_steps=3", "checkpoint.every_steps=1", "checkpoint.resume=none",
                                         "debug.inject_nan_at_step=2"};
  {
    GrpoTrainer t(toy_config(out, sets));
    try {
      t.run();
      FAIL() << "expected a non-finite loss error";
    } catch (const std::runtime_error& e) {
      EXPECT_NE(std::string(e.what()).find("non-finite loss"), std::string::npos) << e.what();
    }
  }
  EXPECT_TRUE(fs::exists(checkpoint_dir(out, 1)));
  EXPECT_FALSE(fs::exists(checkpoint_dir(out, 2)));
  std::vector<std::string> skip = sets;
  skip.push_back("train.on_nonfinite=skip");
  fs::remove_all(out);
  GrpoTrainer t(toy_config(out, skip));
  EXPECT_EQ(t.run().last_step, 3);
  const auto records = read_metrics((out / "metrics.jsonl").string());
  EXPECT_EQ(records[1]["skipped_updates"].get<int64_t>(), 1);
  fs::remove_all(out);
}

int run_wemask(const std::string& args, const fs::path& log) {
  const std::string cmd = "cd '" + kSource + "' && '" + WEMASK_BINARY + "' " + args + " > '" + log.string() + "' 2>&1";
  const int rc = std::system(cmd.c_str());
  return WIFEXITED(rc) ? WEXITSTATUS(rc) : 128 + WTERMSIG(rc);
}

std::string slurp(const fs::path& p) {
  std::ifstream in(p);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

TEST(GrpoCommand, RunsTheDemoConfigAndReportsConfigErrors) {
  const fs::path out = fresh_dir("cmd");
  const fs::path log = out / "log.txt";
  EXPECT_EQ(run_wemask("grpo configs/tiny_cpu_grpo.yaml --set train.max_steps=2 --set output_dir=" + out.string(), log),
            0) << slurp(log);
  EXPECT_TRUE(fs::exists(checkpoint_dir(out, 2))) << slurp(log);
  EXPECT_NE(slurp(log).find("step 2/2 | reward"), std::string::npos) << slurp(log);
  EXPECT_NE(run_wemask("grpo configs/tiny_cpu_grpo.yaml --set grpo.clip_hi=0.3", log), 0);
  EXPECT_NE(slurp(log).find("grpo.clip_high"), std::string::npos) << slurp(log);
  fs::remove_all(out);
}

}  // namespace
}  // namespace wm::rl
