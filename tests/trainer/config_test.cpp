#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "trainer/config/edit_distance.h"
#include "trainer/config/sft_config.h"
#include "trainer/config/train_schema.h"

using namespace wm;
using namespace wm::config;

namespace {

const char* kMinimal = R"(
model:
  config: {vocab_size: 64, hidden_size: 32, intermediate_size: 64, num_hidden_layers: 2,
           num_attention_heads: 4, num_key_value_heads: 2, head_dim: 8}
data:
  train_file: train.jsonl
  tokenizer: tok
train:
  micro_batch_size: 2
  global_batch_size: 8
optim:
  lr: 1.0e-3
)";

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const std::exception& e) {
    return e.what();
  }
  return "<no error>";
}

}  // namespace

TEST(ConfigEditDistance, Basics) {
  EXPECT_EQ(edit_distance("", "abc"), 3u);
  EXPECT_EQ(edit_distance("kitten", "sitting"), 3u);
  EXPECT_EQ(edit_distance("same", "same"), 0u);
  EXPECT_EQ(nearest("optim.lrr", {"optim.eps", "optim.lr", "train.seed"}), "optim.lr");
}

TEST(ConfigResolve, DefaultsAndValues) {
  auto c = SftConfig::from_text(kMinimal);
  EXPECT_DOUBLE_EQ(c.lr, 1e-3);
  EXPECT_EQ(c.micro_batch_size, 2);
  EXPECT_EQ(c.grad_accum_steps(), 4);
  EXPECT_DOUBLE_EQ(c.optim.beta2, 0.999);          // default
  EXPECT_EQ(c.schedule.kind, ScheduleKind::Cosine);  // default
  ASSERT_TRUE(c.random_init.has_value());
  EXPECT_EQ(c.random_init->hidden_size, 32);
  EXPECT_EQ(c.random_init->num_hidden_layers, 2);
  EXPECT_EQ(c.tokenizer_dir, "tok");
}

TEST(ConfigResolve, UnknownKeySuggestsNearest) {
  std::string yaml = std::string(kMinimal) + "optim_:\n  lr: 1\n";
  std::string msg = error_of([&] { SftConfig::from_text(std::string(kMinimal) + "scheduel:\n  type: linear\n"); });
  EXPECT_NE(msg.find("unknown key 'scheduel'"), std::string::npos) << msg;
  EXPECT_NE(msg.find("did you mean 'schedule"), std::string::npos) << msg;
  msg = error_of([&] {
    std::vector<std::string> sets = {"optim.weight_decy=0.1"};
    SftConfig::from_text(kMinimal, sets);
  });
  EXPECT_NE(msg.find("did you mean 'optim.weight_decay'"), std::string::npos) << msg;
  msg = error_of([&] { SftConfig::from_text(std::string(kMinimal) + "wemask:\n  gama: 0.5\n"); });
  EXPECT_NE(msg.find("'wemask.gamma'"), std::string::npos) << msg;
  EXPECT_NE(msg.find("<text>:"), std::string::npos) << msg;  // carries a line number
}

TEST(ConfigResolve, WrongTypeAndRangeNameKeyAndValue) {
  std::vector<std::string> sets = {"optim.lr=fast"};
  std::string msg = error_of([&] { SftConfig::from_text(kMinimal, sets); });
  EXPECT_NE(msg.find("optim.lr"), std::string::npos) << msg;
  EXPECT_NE(msg.find("'fast'"), std::string::npos) << msg;

  sets = {"wemask.gamma=1.5"};
  msg = error_of([&] { SftConfig::from_text(kMinimal, sets); });
  EXPECT_NE(msg.find("wemask.gamma"), std::string::npos) << msg;
  EXPECT_NE(msg.find("1.5"), std::string::npos) << msg;
  EXPECT_NE(msg.find("out of range"), std::string::npos) << msg;

  sets = {"train.micro_batch_size=2.5"};
  msg = error_of([&] { SftConfig::from_text(kMinimal, sets); });
  EXPECT_NE(msg.find("expected an integer"), std::string::npos) << msg;

  sets = {"schedule.type=exponential"};
  msg = error_of([&] { SftConfig::from_text(kMinimal, sets); });
  EXPECT_NE(msg.find("constant|linear|cosine"), std::string::npos) << msg;

  sets = {"optim.betas=[0.9]"};
  msg = error_of([&] { SftConfig::from_text(kMinimal, sets); });
  EXPECT_NE(msg.find("expected 2 numbers"), std::string::npos) << msg;

  msg = error_of([&] { SftConfig::from_text(std::string(kMinimal) + "train:\n  seed: [1]\n"); });
  EXPECT_NE(msg.find("train.seed"), std::string::npos) << msg;
}

TEST(ConfigResolve, CrossKeyRules) {
  std::vector<std::string> sets = {"train.global_batch_size=7"};
  std::string msg = error_of([&] { SftConfig::from_text(kMinimal, sets); });
  EXPECT_NE(msg.find("not a multiple"), std::string::npos) << msg;
  sets = {"eval.every_steps=10"};
  msg = error_of([&] { SftConfig::from_text(kMinimal, sets); });
  EXPECT_NE(msg.find("data.valid_file"), std::string::npos) << msg;
  sets = {"model.path=/x"};
  msg = error_of([&] { SftConfig::from_text(kMinimal, sets); });
  EXPECT_NE(msg.find("exclusive"), std::string::npos) << msg;
  sets = {"schedule.min_lr=0.5"};
  msg = error_of([&] { SftConfig::from_text(kMinimal, sets); });
  EXPECT_NE(msg.find("schedule.min_lr"), std::string::npos) << msg;
  sets = {"wemask.enabled=true", "wemask.me_layer=5"};
  msg = error_of([&] { SftConfig::from_text(kMinimal, sets); });
  EXPECT_NE(msg.find("wemask.me_layer"), std::string::npos) << msg;
}

TEST(ConfigResolve, OverridesAreTypedBySchema) {
  std::vector<std::string> sets = {"optim.lr=5e-4", "wemask.layers=[0, 1]", "wemask.me_layer=1",
                                   "output_dir=runs/a", "data.shuffle=false"};
  auto c = SftConfig::from_text(kMinimal, sets);
  EXPECT_DOUBLE_EQ(c.lr, 5e-4);
  EXPECT_EQ(c.wemask.layers, (std::vector<int64_t>{0, 1}));
  EXPECT_EQ(c.wemask.layers_mode, "");
  ASSERT_TRUE(c.wemask.me_layer.has_value());
  EXPECT_EQ(*c.wemask.me_layer, 1);
  EXPECT_EQ(c.output_dir, "runs/a");
  EXPECT_FALSE(c.shuffle);
}

TEST(ConfigWeMask, ResolveLayers) {
  WeMaskOptions w;
  w.layers_mode = "from_me";
  EXPECT_EQ(w.resolve_layers(2, 5), (std::vector<int64_t>{2, 3, 4}));
  w.layers_mode = "me_only";
  EXPECT_EQ(w.resolve_layers(2, 5), (std::vector<int64_t>{2}));
  w.layers_mode = "";
  w.layers = {0, 4};
  EXPECT_EQ(w.resolve_layers(2, 5), (std::vector<int64_t>{0, 4}));
  w.layers = {7};
  EXPECT_THROW(w.resolve_layers(2, 5), ConfigError);
  EXPECT_THROW(w.resolve_layers(5, 5), ConfigError);
}

TEST(ConfigResolve, DumpRoundTrips) {
  std::vector<std::string> sets = {"optim.lr=3e-4", "wemask.layers=[1]", "optim.betas=[0.8, 0.95]"};
  auto a = SftConfig::from_text(kMinimal, sets);
  std::string dumped = a.resolved.to_yaml();
  EXPECT_NE(dumped.find("lr: 0.0003"), std::string::npos) << dumped;
  auto b = SftConfig::from_text(dumped);
  EXPECT_EQ(b.resolved.to_yaml(), dumped);
  EXPECT_DOUBLE_EQ(b.lr, 3e-4);
  EXPECT_DOUBLE_EQ(b.optim.beta1, 0.8);
  EXPECT_EQ(b.wemask.layers, (std::vector<int64_t>{1}));
  EXPECT_EQ(b.random_init->head_dim, 8);
}

TEST(ConfigResolve, MissingFilesAreAllReported) {
  auto c = SftConfig::from_text(kMinimal);
  std::string msg = error_of([&] { c.check_files(); });
  EXPECT_NE(msg.find("data.train_file"), std::string::npos) << msg;
  EXPECT_NE(msg.find("train.jsonl"), std::string::npos) << msg;
  EXPECT_NE(msg.find("data.tokenizer"), std::string::npos) << msg;

  auto dir = std::filesystem::temp_directory_path() / "wm_config_files_test";
  std::filesystem::create_directories(dir / "tok");
  std::ofstream(dir / "train.jsonl") << "{}\n";
  std::vector<std::string> sets = {"data.train_file=" + (dir / "train.jsonl").string(),
                                   "data.tokenizer=" + (dir / "tok").string()};
  auto ok = SftConfig::from_text(kMinimal, sets);
  EXPECT_NO_THROW(ok.check_files());
  std::filesystem::remove_all(dir);
}

TEST(ConfigResolve, SyntaxErrorNamesLine) {
  std::string msg = error_of([&] { SftConfig::from_text("a: [1, 2\nb: 3\n"); });
  EXPECT_NE(msg.find("YAML syntax error"), std::string::npos) << msg;
  msg = error_of([&] { SftConfig::from_text("optim: 3\n"); });
  EXPECT_NE(msg.find("section"), std::string::npos) << msg;
}

TEST(ConfigSchema, ReposConfigsResolve) {
  for (const char* name : {"tiny_cpu_sft.yaml", "qwen3_4b_gsm8k_sft.yaml"}) {
    std::string path = std::string(WEMASK_SOURCE_DIR) + "/configs/" + name;
    if (!std::filesystem::exists(path)) GTEST_SKIP() << path << " not written yet";
    EXPECT_NO_THROW(SftConfig::load(path)) << name;
  }
}
