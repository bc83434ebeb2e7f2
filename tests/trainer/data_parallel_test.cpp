// Data parallelism on the CPU with real processes: `wemask train` ranks started by this test
// (fork/exec with RANK/WORLD_SIZE/LOCAL_RANK/MASTER_ADDR/MASTER_PORT, as torchrun sets them) or by
// launch/run, compared bit for bit with a single process.
//
// The pairing that must be bit-identical (and why): 2 ranks x 1 micro-batch of 1 row versus
// 1 process with 2 micro-batches of 1 row (gradient accumulation), same global batch of 2 rows in
// the same order (rank r takes global row r; the single process takes row 0 then row 1). The
// single process computes each micro-batch's gradient into zeroed gradients and adds micro-batch 1
// onto micro-batch 0 (dist.exact_accumulation); the CPU all-reduce adds rank 1 onto rank 0: the
// same two fp32 additions. The loss-token count is all-reduced, so both divide by the same global
// count. (1 process x 4 micro-batches vs 2 ranks x 2 would sum in a different order: not tested.)
#include <gtest/gtest.h>

#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "trainer/checkpoint/checkpoint.h"
#include "trainer/dist/grad_sync.h"
#include "trainer/metrics/metrics_log.h"

using namespace wm;
namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

namespace {

const std::string kSource = WEMASK_SOURCE_DIR;
const std::string kTokenizer = kSource + "/assets/qwen3-tokenizer";

bool have_tokenizer() { return fs::exists(kTokenizer + "/tokenizer.json"); }

fs::path fresh_dir(const std::string& name) {
  fs::path dir = fs::temp_directory_path() / ("wm_dp_" + name + "_" + std::to_string(::getpid()));
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

int free_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = 0;
  ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
  socklen_t len = sizeof a;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  ::close(fd);
  return ntohs(a.sin_port);
}

int exit_code(int status) { return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status); }

// `wemask train CONFIG ARGS` as a single process (no distributed environment).
int run_single(const fs::path& cfg, const std::string& args, const fs::path& log) {
  const std::string cmd = "cd '" + kSource + "' && env -u RANK -u WORLD_SIZE -u LOCAL_RANK '" + WEMASK_BINARY +
                          "' train '" + cfg.string() + "' " + args + " > '" + log.string() + "' 2>&1";
  return exit_code(std::system(cmd.c_str()));
}

struct RankRun {
  std::vector<int> codes;        // exit code per rank (128 + signal when killed)
  std::vector<double> seconds;   // when each rank ended, from the start
  std::vector<std::string> logs;
};

// Starts `world` ranks of `wemask train CONFIG ARGS` with a torchrun-style environment. Ranks
// still running `grace_s` after the first one ended are SIGKILLed (as a launcher would).
RankRun run_ranks(int world, const fs::path& cfg, const std::vector<std::string>& args, const fs::path& dir,
                  const std::string& tag, double grace_s = 120, int absent_rank = -1) {
  const int port = free_port();
  const auto start = Clock::now();
  std::vector<pid_t> pids;
  std::vector<fs::path> logs;
  for (int r = 0; r < world; ++r) {
    logs.push_back(dir / (tag + "_rank" + std::to_string(r) + ".log"));
    if (r == absent_rank) {  // never started: counts as done
      pids.push_back(-1);
      continue;
    }
    pid_t pid = fork();
    if (pid == 0) {
      FILE* out = std::freopen(logs.back().c_str(), "w", stdout);
      (void)out;
      dup2(fileno(stdout), fileno(stderr));
      setenv("RANK", std::to_string(r).c_str(), 1);
      setenv("LOCAL_RANK", std::to_string(r).c_str(), 1);
      setenv("WORLD_SIZE", std::to_string(world).c_str(), 1);
      setenv("MASTER_ADDR", "127.0.0.1", 1);
      setenv("MASTER_PORT", std::to_string(port).c_str(), 1);
      if (chdir(kSource.c_str()) != 0) _exit(90);
      std::vector<std::string> argv_s{WEMASK_BINARY, "train", cfg.string()};
      argv_s.insert(argv_s.end(), args.begin(), args.end());
      std::vector<char*> argv;
      for (auto& a : argv_s) argv.push_back(a.data());
      argv.push_back(nullptr);
      execv(WEMASK_BINARY, argv.data());
      _exit(91);
    }
    pids.push_back(pid);
  }
  RankRun run;
  run.codes.assign(world, -1);
  run.seconds.assign(world, 0);
  double first_end = -1;
  int left = world;
  if (absent_rank >= 0) {
    run.codes[absent_rank] = 0;
    --left;
  }
  while (left > 0) {
    const double now = std::chrono::duration<double>(Clock::now() - start).count();
    for (int r = 0; r < world; ++r) {
      if (run.codes[r] != -1) continue;
      int status = 0;
      if (waitpid(pids[r], &status, WNOHANG) != pids[r]) {
        if (first_end >= 0 && now - first_end > grace_s) kill(pids[r], SIGKILL);
        continue;
      }
      run.codes[r] = exit_code(status);
      run.seconds[r] = now;
      if (first_end < 0) first_end = now;
      --left;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  for (const auto& l : logs) run.logs.push_back(slurp(l));
  return run;
}

std::string all_logs(const RankRun& r) {
  std::string s;
  for (size_t i = 0; i < r.logs.size(); ++i) s += "---- rank " + std::to_string(i) + "\n" + r.logs[i];
  return s;
}

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

// A tiny random-init model: micro-batch 1 row, global batch 2 rows (so 1 process accumulates 2
// micro-batches and 2 ranks take 1 each), one thread per process (deterministic reductions).
fs::path write_tiny_config(const fs::path& dir) {
  write_token_data(dir / "train.jsonl", 64, 1);
  const fs::path cfg = dir / "tiny.yaml";
  std::ofstream(cfg) << "model:\n  init_seed: 3\n  config: {vocab_size: 256, hidden_size: 32, intermediate_size: 64,\n"
                        "    num_hidden_layers: 2, num_attention_heads: 4, num_key_value_heads: 2, head_dim: 8}\n"
                        "data:\n  train_file: " << (dir / "train.jsonl").string() << "\n  tokenizer: " << kTokenizer
                     << "\n  format: tokens\n  max_length: 64\n"
                        "train:\n  micro_batch_size: 1\n  global_batch_size: 2\n  max_steps: 4\n  precision: fp32\n"
                        "  device: cpu\n  seed: 7\n  threads: 1\n  grad_clip: 1.0\n"
                        "dist:\n  timeout_s: 20\n  bucket_mb: 1\n"
                        "optim:\n  lr: 1.0e-2\n  weight_decay: 0.1\n"
                        "schedule:\n  type: cosine\n  warmup_steps: 1\n"
                        "checkpoint:\n  every_steps: 2\n  keep_last: 5\n  resume: auto\n  export_at_end: false\n";
  return cfg;
}

// Bit-for-bit comparison of the fp32 master weights and AdamW moments of two checkpoints.
void expect_same_state(const fs::path& a, const fs::path& b) {
  LoadedCheckpoint ca(a), cb(b);
  ASSERT_EQ(ca.numel(), cb.numel());
  EXPECT_EQ(ca.state().step, cb.state().step);
  EXPECT_EQ(ca.state().tokens_seen, cb.state().tokens_seen);
  EXPECT_EQ(ca.state().loader_state["epoch"], cb.state().loader_state["epoch"]);
  EXPECT_EQ(ca.state().loader_state["step"], cb.state().loader_state["step"]);
  int64_t mismatches = 0;
  for (int64_t i = 0; i < ca.numel(); ++i) mismatches += std::memcmp(&ca.master()[i], &cb.master()[i], 4) != 0;
  EXPECT_EQ(mismatches, 0) << a << " vs " << b;
  // The manifests hash every file: equal hashes of the moments too.
  auto files = [](const fs::path& d) { return nlohmann::json::parse(slurp(d / "COMPLETE"))["files"]; };
  auto fa = files(a), fb = files(b);
  for (const char* f : {"master.bin", "adam_m.bin", "adam_v.bin"}) EXPECT_EQ(fa[f], fb[f]) << f << ": " << a << " vs " << b;
}

std::vector<double> losses(const fs::path& metrics, const char* key = "loss") {
  std::vector<double> out;
  for (const auto& r : read_metrics(metrics.string()))
    if (r.contains(key)) out.push_back(r[key].get<double>());
  return out;
}

}  // namespace

TEST(DataParallel, ZeroShardsCoverTheBufferAndSegmentsAreClipped) {
  EXPECT_EQ(dist::zero_shard(10, 0, 3).begin, 0);
  EXPECT_EQ(dist::zero_shard(10, 0, 3).end, 3);
  EXPECT_EQ(dist::zero_shard(10, 1, 3).end, 6);
  EXPECT_EQ(dist::zero_shard(10, 2, 3).end, 10);  // the last rank owns the remainder
  std::vector<ParamSegment> segs{{0, 4, false}, {4, 6, true}};
  auto s = dist::shard_segments(segs, {3, 6});
  ASSERT_EQ(s.size(), 2u);
  EXPECT_EQ(s[0].offset, 0);
  EXPECT_EQ(s[0].numel, 1);
  EXPECT_FALSE(s[0].decay);
  EXPECT_EQ(s[1].offset, 1);
  EXPECT_EQ(s[1].numel, 2);
  EXPECT_TRUE(s[1].decay);
}

// (a) 2 CPU ranks x 1 micro-batch == 1 process x 2 micro-batches, bit for bit (pairing above);
// (b) ZeRO-1 == plain DP, bit for bit; and the loss curves are equal.
TEST(DataParallel, TwoRanksMatchOneProcessAndZeroOneMatchesPlain) {
  if (!have_tokenizer()) GTEST_SKIP() << "run launch/fetch_assets.sh (needs " << kTokenizer << ")";
  const fs::path dir = fresh_dir("equal");
  const fs::path cfg = write_tiny_config(dir);
  const fs::path one = dir / "one", two = dir / "two", zero = dir / "zero";
  // Validation every 2 steps (sharded over the ranks in DP, sums all-reduced).
  const std::string eval = "data.valid_file=" + (dir / "train.jsonl").string();
  ASSERT_EQ(run_single(cfg, "--set output_dir=" + one.string() + " --set " + eval + " --set eval.every_steps=2",
                       dir / "one.log"),
            0)
      << slurp(dir / "one.log");
  RankRun dp = run_ranks(2, cfg, {"--set", "output_dir=" + two.string(), "--set", eval, "--set", "eval.every_steps=2"},
                         dir, "two");
  ASSERT_EQ(dp.codes, (std::vector<int>{0, 0})) << all_logs(dp);
  RankRun z = run_ranks(2, cfg, {"--set", "output_dir=" + zero.string(), "--set", "train.zero_stage=1"}, dir, "zero");
  ASSERT_EQ(z.codes, (std::vector<int>{0, 0})) << all_logs(z);
  EXPECT_NE(dp.logs[0].find("rank 0 of 2"), std::string::npos) << dp.logs[0];

  for (int step : {2, 4}) {
    expect_same_state(checkpoint_dir(one, step), checkpoint_dir(two, step));
    expect_same_state(checkpoint_dir(two, step), checkpoint_dir(zero, step));
  }
  const auto l1 = losses(one / "metrics.jsonl"), l2 = losses(two / "metrics.jsonl"), lz = losses(zero / "metrics.jsonl");
  ASSERT_EQ(l1.size(), 4u);
  EXPECT_EQ(l1, l2);
  EXPECT_EQ(l2, lz);
  const auto e1 = losses(one / "metrics.jsonl", "eval_loss"), e2 = losses(two / "metrics.jsonl", "eval_loss");
  ASSERT_EQ(e1.size(), 2u);
  ASSERT_EQ(e2.size(), 2u);
  for (size_t i = 0; i < e1.size(); ++i) EXPECT_NEAR(e1[i], e2[i], 1e-9 * std::abs(e1[i]));
  EXPECT_FALSE(fs::exists(two / "metrics.jsonl") && fs::file_size(two / "metrics.jsonl") == 0);
  // Training moved the weights (the comparison is not vacuous).
  LoadedCheckpoint a(checkpoint_dir(one, 4)), b(checkpoint_dir(one, 2));
  int64_t moved = 0;
  for (int64_t i = 0; i < a.numel(); ++i) moved += a.master()[i] != b.master()[i];
  EXPECT_GT(moved, a.numel() / 2);
  fs::remove_all(dir);
}

// (d) A 2-rank checkpoint resumes on 1 process (and a 1-process one on 2 ZeRO-1 ranks): the global
// batch is the same, so the data order continues, and the end state equals the uninterrupted run.
TEST(DataParallel, CheckpointsResumeOnAnotherNumberOfRanks) {
  if (!have_tokenizer()) GTEST_SKIP() << "run launch/fetch_assets.sh (needs " << kTokenizer << ")";
  const fs::path dir = fresh_dir("resume");
  const fs::path cfg = write_tiny_config(dir);
  const fs::path straight = dir / "straight", a = dir / "two_then_one", b = dir / "one_then_zero";
  ASSERT_EQ(run_single(cfg, "--set output_dir=" + straight.string(), dir / "s.log"), 0) << slurp(dir / "s.log");

  RankRun first = run_ranks(2, cfg, {"--set", "output_dir=" + a.string(), "--max-steps-now", "2"}, dir, "a1");
  ASSERT_EQ(first.codes, (std::vector<int>{0, 0})) << all_logs(first);
  ASSERT_EQ(run_single(cfg, "--set output_dir=" + a.string(), dir / "a2.log"), 0) << slurp(dir / "a2.log");
  EXPECT_NE(slurp(dir / "a2.log").find("resumed from"), std::string::npos);
  expect_same_state(checkpoint_dir(straight, 4), checkpoint_dir(a, 4));

  ASSERT_EQ(run_single(cfg, "--set output_dir=" + b.string() + " --max-steps-now 2", dir / "b1.log"), 0)
      << slurp(dir / "b1.log");
  RankRun second = run_ranks(2, cfg, {"--set", "output_dir=" + b.string(), "--set", "train.zero_stage=1"}, dir, "b2");
  ASSERT_EQ(second.codes, (std::vector<int>{0, 0})) << all_logs(second);
  expect_same_state(checkpoint_dir(straight, 4), checkpoint_dir(b, 4));

  // A global batch that does not split over the ranks is refused, naming the keys.
  RankRun bad = run_ranks(2, cfg, {"--set", "output_dir=" + (dir / "bad").string(), "--set", "train.global_batch_size=3"},
                          dir, "bad");
  EXPECT_NE(bad.codes[0], 0);
  EXPECT_NE(bad.logs[0].find("train.global_batch_size"), std::string::npos) << bad.logs[0];
  EXPECT_NE(bad.logs[0].find("train.micro_batch_size"), std::string::npos) << bad.logs[0];
  fs::remove_all(dir);
}

// (c) Rank 1 dies (SIGKILL after the update of step 3): rank 0 exits within dist.timeout_s with
// an error naming rank 1; the last checkpoint (step 2) is complete and resumes.
TEST(DataParallel, ADeadRankStopsTheOthersInBoundedTimeAndTheLastCheckpointResumes) {
  if (!have_tokenizer()) GTEST_SKIP() << "run launch/fetch_assets.sh (needs " << kTokenizer << ")";
  const fs::path dir = fresh_dir("kill");
  const fs::path cfg = write_tiny_config(dir);
  const fs::path out = dir / "out";
  RankRun r = run_ranks(2, cfg,
                        {"--set", "output_dir=" + out.string(), "--set", "dist.timeout_s=3", "--set",
                         "debug.kill_at_step=3", "--set", "debug.kill_rank=1"},
                        dir, "kill");
  EXPECT_EQ(r.codes[1], 128 + SIGKILL) << all_logs(r);
  EXPECT_EQ(r.codes[0], 1) << all_logs(r);
  EXPECT_LT(r.seconds[0] - r.seconds[1], 3.0 + 6.0) << "rank 0 must give up within the timeout (+ slack)";
  EXPECT_NE(r.logs[0].find("rank 1 did not take part"), std::string::npos) << r.logs[0];
  EXPECT_NE(r.logs[0].find("behind: rank 1"), std::string::npos) << r.logs[0];
  auto latest = latest_checkpoint(out);
  ASSERT_TRUE(latest.has_value());
  EXPECT_EQ(*latest, checkpoint_dir(out, 2));
  EXPECT_NO_THROW(LoadedCheckpoint ck(*latest));
  ASSERT_EQ(run_single(cfg, "--set output_dir=" + out.string(), dir / "resume.log"), 0) << slurp(dir / "resume.log");
  EXPECT_NE(slurp(dir / "resume.log").find("resumed from"), std::string::npos);
  EXPECT_TRUE(latest_checkpoint(out) == checkpoint_dir(out, 4));

  // Rank 0 (which serves the store) dies: rank 1 notices at once and names rank 0.
  const fs::path out0 = dir / "out0";
  RankRun r0 = run_ranks(2, cfg,
                         {"--set", "output_dir=" + out0.string(), "--set", "dist.timeout_s=3", "--set",
                          "debug.kill_at_step=3", "--set", "debug.kill_rank=0"},
                         dir, "kill0");
  EXPECT_EQ(r0.codes[0], 128 + SIGKILL) << all_logs(r0);
  EXPECT_EQ(r0.codes[1], 1) << all_logs(r0);
  EXPECT_NE(r0.logs[1].find("rank 0"), std::string::npos) << r0.logs[1];
  EXPECT_LT(r0.seconds[1] - r0.seconds[0], 3.0 + 6.0);
  fs::remove_all(dir);
}

// (c') Rank 1 hangs (sleeps forever after step 3's update): rank 0 exits within dist.timeout_s
// naming rank 1, without waiting for the hung rank to hang up (a launcher then stops the rest).
TEST(DataParallel, AHungRankStopsTheOthersInBoundedTime) {
  if (!have_tokenizer()) GTEST_SKIP() << "run launch/fetch_assets.sh (needs " << kTokenizer << ")";
  const fs::path dir = fresh_dir("hang");
  const fs::path cfg = write_tiny_config(dir);
  RankRun r = run_ranks(2, cfg,
                        {"--set", "output_dir=" + (dir / "out").string(), "--set", "dist.timeout_s=3", "--set",
                         "debug.hang_at_step=3", "--set", "debug.kill_rank=1"},
                        dir, "hang", /*grace_s=*/5);
  EXPECT_EQ(r.codes[0], 1) << all_logs(r);
  EXPECT_EQ(r.codes[1], 128 + SIGKILL) << "rank 1 hangs until it is killed";
  EXPECT_LT(r.seconds[0], 3.0 + 20.0) << all_logs(r);  // start-up + 3 steps + the timeout
  EXPECT_NE(r.logs[0].find("rank 1 did not take part"), std::string::npos) << r.logs[0];
  EXPECT_NE(r.logs[0].find("behind: rank 1"), std::string::npos) << r.logs[0];
  EXPECT_EQ(latest_checkpoint(dir / "out"), checkpoint_dir(dir / "out", 2));
  fs::remove_all(dir);
}

// A rank that never starts: rank 0 gives up within dist.timeout_s, naming it.
TEST(DataParallel, ARankThatNeverStartsIsNamed) {
  if (!have_tokenizer()) GTEST_SKIP() << "run launch/fetch_assets.sh (needs " << kTokenizer << ")";
  const fs::path dir = fresh_dir("absent");
  const fs::path cfg = write_tiny_config(dir);
  RankRun r = run_ranks(2, cfg, {"--set", "output_dir=" + (dir / "out").string(), "--set", "dist.timeout_s=2"}, dir,
                        "absent", 120, /*absent_rank=*/1);
  EXPECT_EQ(r.codes[0], 1) << all_logs(r);
  EXPECT_LT(r.seconds[0], 2.0 + 15.0);
  EXPECT_NE(r.logs[0].find("rank 1 did not start"), std::string::npos) << r.logs[0];
  fs::remove_all(dir);
}

// launch/run --cpu --nproc 2 starts the ranks (and passes train.device).
TEST(DataParallel, LauncherStartsCpuRanks) {
  if (!have_tokenizer()) GTEST_SKIP() << "run launch/fetch_assets.sh (needs " << kTokenizer << ")";
  const fs::path dir = fresh_dir("launch");
  const fs::path cfg = write_tiny_config(dir);
  const std::string cmd = "cd '" + kSource + "' && MASTER_PORT=" + std::to_string(free_port()) +
                          " launch/run --cpu --nproc 2 --bin '" + WEMASK_BINARY + "' '" + cfg.string() +
                          "' --set output_dir=" + (dir / "out").string() + " > '" + (dir / "l.log").string() + "' 2>&1";
  ASSERT_EQ(exit_code(std::system(cmd.c_str())), 0) << slurp(dir / "l.log");
  EXPECT_EQ(losses(dir / "out" / "metrics.jsonl").size(), 4u);
  EXPECT_NE(slurp(dir / "l.log").find("rank 0 of 2"), std::string::npos);
  fs::remove_all(dir);
}
