#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "trainer/metrics/metrics_log.h"
#include "trainer/metrics/metrics_plot.h"
#include "trainer/metrics/progress.h"

using namespace wm;
namespace fs = std::filesystem;

TEST(Progress, Formatting) {
  EXPECT_EQ(format_duration(42), "42s");
  EXPECT_EQ(format_duration(185), "3m05s");
  EXPECT_EQ(format_duration(3720), "1h02m");
  EXPECT_EQ(format_rate(950), "950");
  EXPECT_EQ(format_rate(1234), "1.2k");
  EXPECT_EQ(format_bytes(int64_t(3) << 30), "3.0 GiB");
  ProgressInfo p;
  p.step = 12;
  p.total_steps = 300;
  p.loss = 2.34567;
  p.lr = 2e-5;
  p.grad_norm = 1.5;
  p.tokens_per_s = 1200;
  p.eta_s = 185;
  std::string line = format_progress(p);
  EXPECT_NE(line.find("step 12/300"), std::string::npos) << line;
  EXPECT_NE(line.find("loss 2.3457"), std::string::npos) << line;
  EXPECT_NE(line.find("lr 2.00e-05"), std::string::npos) << line;
  EXPECT_NE(line.find("mfu n/a"), std::string::npos) << line;
  EXPECT_NE(line.find("eta 3m05s"), std::string::npos) << line;
  p.mfu = 0.413;
  EXPECT_NE(format_progress(p).find("mfu 41.3%"), std::string::npos);
  EXPECT_TRUE(resident_memory_bytes().has_value());
  EXPECT_DOUBLE_EQ(eta_seconds(10, 5, 20), 40);
}

TEST(Progress, FlopsPerToken) {
  Qwen3Config c;
  c.vocab_size = 10;
  c.hidden_size = 4;
  c.intermediate_size = 8;
  c.num_hidden_layers = 2;
  c.num_attention_heads = 2;
  c.num_key_value_heads = 1;
  c.head_dim = 2;
  // per layer: 4*(4+2+2) + 4*4 + 3*4*8 = 144; x2 layers + 10*4 embed/lm_head = 328
  EXPECT_EQ(c.matmul_params(), 328);
  EXPECT_DOUBLE_EQ(flops_per_token(c, 16), 6.0 * 328 + 12.0 * 2 * 4 * 16);
  EXPECT_DOUBLE_EQ(model_flops_utilisation(1000, 989e9), 1.0);
}

TEST(Metrics, WriteReadAndPlot) {
  fs::path dir = fs::temp_directory_path() / "wm_metrics_test";
  fs::remove_all(dir);
  const std::string path = (dir / "m.jsonl").string();
  {
    MetricsLog log(path, false);
    for (int s = 1; s <= 5; ++s)
      log.write({{"step", s}, {"loss", 3.0 - 0.3 * s}, {"lr", 1e-3}, {"grad_norm", 1.0 / s}});
    log.write({{"step", 5}, {"eval_loss", 2.0}});
  }
  {
    MetricsLog log(path, true);  // a resumed run appends
    log.write({{"step", 6}, {"loss", 1.0}, {"lr", 5e-4}, {"grad_norm", 0.1}});
  }
  auto records = read_metrics(path);
  ASSERT_EQ(records.size(), 7u);
  EXPECT_EQ(records[6]["step"], 6);
  std::string svg = metrics_svg(records, "run");
  EXPECT_EQ(svg.rfind("<svg", 0), 0u);
  EXPECT_NE(svg.find("learning rate"), std::string::npos);
  EXPECT_NE(svg.find("gradient norm"), std::string::npos);
  EXPECT_NE(svg.find("eval"), std::string::npos);
  EXPECT_THROW(metrics_svg({{{"step", 1}}}, "x"), std::invalid_argument);
  { std::ofstream(path, std::ios::app) << "not json\n{\"step\": 7}\n"; }
  EXPECT_THROW(read_metrics(path), std::runtime_error);
  fs::remove_all(dir);
}
