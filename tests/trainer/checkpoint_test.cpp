#include <gtest/gtest.h>

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <thread>

#include "kernels/buffer.h"
#include "trainer/checkpoint/checkpoint.h"

using namespace wm;
namespace fs = std::filesystem;

namespace {

struct Buffers {
  OwnedTensor master, m, v;
  explicit Buffers(int64_t n) : master({n}, DType::F32), m({n}, DType::F32), v({n}, DType::F32) {}
  // Contents that identify the step: every value derives from it.
  void fill_for_step(int64_t step) {
    auto a = master.span<float>(), b = m.span<float>(), c = v.span<float>();
    for (size_t i = 0; i < a.size(); ++i) {
      a[i] = static_cast<float>(step) + 0.001f * static_cast<float>(i % 1000);
      b[i] = -static_cast<float>(step);
      c[i] = static_cast<float>(step * 2);
    }
  }
  CheckpointData data(int64_t step) const {
    CheckpointData d{master.t(), m.t(), v.t(), {}, "seed: 1\n", "{\"model_type\": \"qwen3\"}"};
    d.state.step = step;
    d.state.tokens_seen = step * 100;
    d.state.rng_state = "rng-" + std::to_string(step);
    d.state.loader_state = {{"position", step * 3}};
    return d;
  }
};

fs::path fresh_dir(const std::string& name) {
  fs::path dir = fs::temp_directory_path() / ("wm_ckpt_" + name + "_" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir;
}

void expect_checkpoint_of_step(const fs::path& dir, int64_t step, int64_t n) {
  LoadedCheckpoint ck(dir);
  EXPECT_EQ(ck.state().step, step);
  EXPECT_EQ(ck.state().tokens_seen, step * 100);
  EXPECT_EQ(ck.state().loader_state["position"], step * 3);
  ASSERT_EQ(ck.numel(), n);
  Buffers expect(n);
  expect.fill_for_step(step);
  Buffers got(n);
  ck.copy_master_to(got.master.t());
  ck.copy_adam_m_to(got.m.t());
  ck.copy_adam_v_to(got.v.t());
  for (int64_t i = 0; i < n; i += 997) {
    ASSERT_EQ(got.master.span<float>()[i], expect.master.span<float>()[i]);
    ASSERT_EQ(got.m.span<float>()[i], expect.m.span<float>()[i]);
    ASSERT_EQ(got.v.span<float>()[i], expect.v.span<float>()[i]);
  }
}

}  // namespace

TEST(Checkpoint, SaveLoadRoundTrip) {
  auto out = fresh_dir("roundtrip");
  Buffers b(5000);
  b.fill_for_step(7);
  auto dir = save_checkpoint(out, b.data(7));
  EXPECT_EQ(dir, checkpoint_dir(out, 7));
  EXPECT_TRUE(is_complete_dir(dir));
  expect_checkpoint_of_step(dir, 7, 5000);
  LoadedCheckpoint ck(dir);
  EXPECT_EQ(ck.config_yaml(), "seed: 1\n");
  EXPECT_EQ(ck.state().rng_state, "rng-7");
  OwnedTensor wrong({10}, DType::F32);
  EXPECT_THROW(ck.copy_master_to(wrong.t()), std::runtime_error);
  fs::remove_all(out);
}

TEST(Checkpoint, CorruptFileIsDetected) {
  auto out = fresh_dir("corrupt");
  Buffers b(1000);
  b.fill_for_step(1);
  auto dir = save_checkpoint(out, b.data(1));
  {
    std::fstream f(dir / "adam_v.bin", std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(123);
    f.put('\x7f');
  }
  try {
    LoadedCheckpoint ck(dir);
    FAIL() << "no error";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("adam_v.bin"), std::string::npos) << e.what();
  }
  fs::remove_all(out);
}

TEST(Checkpoint, ThrowMidSaveLeavesPreviousIntact) {
  auto out = fresh_dir("throw");
  Buffers b(1000);
  b.fill_for_step(1);
  save_checkpoint(out, b.data(1));
  b.fill_for_step(2);
  SaveOptions opts;
  opts.after_file = [](const std::string& name) {
    if (name == "master.bin") throw std::runtime_error("disk full (injected)");
  };
  EXPECT_THROW(save_checkpoint(out, b.data(2), opts), std::runtime_error);
  EXPECT_FALSE(fs::exists(checkpoint_dir(out, 2)));
  ASSERT_TRUE(latest_checkpoint(out).has_value());
  EXPECT_EQ(*latest_checkpoint(out), checkpoint_dir(out, 1));
  int leftovers = 0;
  for (const auto& e : fs::directory_iterator(checkpoint_root(out))) leftovers += e.path() != checkpoint_dir(out, 1);
  EXPECT_EQ(leftovers, 0);  // the temporary folder was removed on unwind
  expect_checkpoint_of_step(checkpoint_dir(out, 1), 1, 1000);
  fs::remove_all(out);
}

// A child process is SIGKILLed between two tensor files of its save.
TEST(Checkpoint, SigkillBetweenFilesLeavesPreviousIntact) {
  auto out = fresh_dir("sigkill");
  const int64_t n = 20000;
  Buffers b(n);
  b.fill_for_step(1);
  save_checkpoint(out, b.data(1));
  pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    b.fill_for_step(2);
    SaveOptions opts;
    opts.after_file = [](const std::string& name) {
      if (name == "adam_m.bin") ::raise(SIGKILL);
    };
    try {
      save_checkpoint(out, b.data(2), opts);
    } catch (...) {
    }
    ::_exit(0);  // not reached when the kill works
  }
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFSIGNALED(status));
  EXPECT_EQ(WTERMSIG(status), SIGKILL);
  EXPECT_FALSE(fs::exists(checkpoint_dir(out, 2)));
  auto latest = latest_checkpoint(out);
  ASSERT_TRUE(latest.has_value());
  EXPECT_EQ(*latest, checkpoint_dir(out, 1));
  expect_checkpoint_of_step(*latest, 1, n);
  // The half-written folder is still there, hidden; pruning removes it.
  EXPECT_EQ(remove_stale_tmp_dirs(checkpoint_root(out)), 1);
  fs::remove_all(out);
}

// A child saves checkpoint after checkpoint; it is killed at arbitrary moments. Whatever the
// moment, the newest complete checkpoint verifies and holds exactly the data of its step.
TEST(Checkpoint, SigkillAtRandomMomentsNeverCorrupts) {
  auto out = fresh_dir("random_kill");
  const int64_t n = 1 << 20;  // 4 MiB per buffer
  Buffers b(n);
  b.fill_for_step(1);
  save_checkpoint(out, b.data(1));
  const int delays_ms[] = {1, 7, 23, 41, 80};
  int64_t next_step = 2;
  for (int delay : delays_ms) {
    const int64_t first = next_step;
    pid_t pid = ::fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      for (int64_t step = first;; ++step) {
        b.fill_for_step(step);
        save_checkpoint(out, b.data(step));
        prune_checkpoints(out, 2);
      }
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(delay));
    ::kill(pid, SIGKILL);
    int status = 0;
    ::waitpid(pid, &status, 0);
    auto latest = latest_checkpoint(out);
    ASSERT_TRUE(latest.has_value());
    auto all = list_checkpoints(out);
    const int64_t step = all.back().first;
    expect_checkpoint_of_step(*latest, step, n);
    next_step = step + 1;
    remove_stale_tmp_dirs(checkpoint_root(out));
  }
  fs::remove_all(out);
}

TEST(Checkpoint, KeepLastPrunesOldest) {
  auto out = fresh_dir("prune");
  Buffers b(100);
  for (int64_t s : {10, 20, 30, 40}) {
    b.fill_for_step(s);
    save_checkpoint(out, b.data(s));
  }
  fs::create_directories(checkpoint_root(out) / "step_00000050");  // incomplete: ignored
  EXPECT_EQ(*latest_checkpoint(out), checkpoint_dir(out, 40));
  prune_checkpoints(out, 2);
  auto all = list_checkpoints(out);
  ASSERT_EQ(all.size(), 2u);
  EXPECT_EQ(all[0].first, 30);
  EXPECT_EQ(all[1].first, 40);
  fs::remove_all(out);
}
