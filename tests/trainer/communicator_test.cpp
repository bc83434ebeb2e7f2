// The CPU communicator with real processes: fork N ranks that meet through the TCP store.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <functional>
#include <thread>
#include <vector>

#include "kernels/buffer.h"
#include "trainer/dist/communicator.h"
#include "trainer/dist/tcp_store.h"

namespace wm::dist {
namespace {

// Runs body(rank, comm) in `world` forked processes; returns each child's exit code.
std::vector<int> run_ranks(int world, std::chrono::milliseconds timeout,
                           const std::function<void(int, Communicator&)>& body) {
  // Rank 0's store picks a free port; the children learn it through a pipe.
  int port_pipe[2];
  EXPECT_EQ(pipe(port_pipe), 0);
  std::vector<pid_t> pids;
  for (int r = 0; r < world; ++r) {
    pid_t pid = fork();
    if (pid == 0) {
      int code = 0;
      try {
        int port = 0;
        std::unique_ptr<TcpStore> store;
        if (r == 0) {
          store = std::make_unique<TcpStore>("127.0.0.1", 0, 0, timeout);
          port = store->port();
          for (int i = 1; i < world; ++i) (void)!write(port_pipe[1], &port, sizeof port);
        } else {
          (void)!read(port_pipe[0], &port, sizeof port);
          store = std::make_unique<TcpStore>("127.0.0.1", port, r, timeout);
        }
        auto comm = make_cpu_communicator(*store, r, world);
        body(r, *comm);
        comm->barrier();
      } catch (const std::exception& e) {
        fprintf(stderr, "rank %d: %s\n", r, e.what());
        code = 3;
      }
      _exit(code);
    }
    pids.push_back(pid);
  }
  std::vector<int> codes;
  for (pid_t p : pids) {
    int status = 0;
    waitpid(p, &status, 0);
    codes.push_back(WIFEXITED(status) ? WEXITSTATUS(status) : 100 + WTERMSIG(status));
  }
  close(port_pipe[0]);
  close(port_pipe[1]);
  return codes;
}

TEST(CpuCommunicator, CollectivesGiveTheSameAnswerOnEveryRank) {
  auto codes = run_ranks(3, std::chrono::seconds(20), [](int rank, Communicator& comm) {
    OwnedTensor x({5}, DType::F32);
    for (int i = 0; i < 5; ++i) x.ptr<float>()[i] = static_cast<float>(rank * 10 + i);
    comm.all_reduce_sum(x);
    for (int i = 0; i < 5; ++i)
      if (x.ptr<float>()[i] != static_cast<float>(30 + 3 * i)) _exit(10);

    OwnedTensor in({6}, DType::F64), out({2}, DType::F64);
    for (int i = 0; i < 6; ++i) in.ptr<double>()[i] = rank + i;  // sum over ranks: 3 + 3i
    comm.reduce_scatter_sum(out, in);
    for (int i = 0; i < 2; ++i)
      if (out.ptr<double>()[i] != 3 + 3 * (rank * 2 + i)) _exit(11);

    OwnedTensor mine({2}, DType::F32), all({6}, DType::F32);
    mine.ptr<float>()[0] = static_cast<float>(rank);
    mine.ptr<float>()[1] = static_cast<float>(-rank);
    comm.all_gather(all, mine);
    for (int r = 0; r < 3; ++r)
      if (all.ptr<float>()[2 * r] != r || all.ptr<float>()[2 * r + 1] != -r) _exit(12);

    OwnedTensor b({1}, DType::F32);
    b.ptr<float>()[0] = rank == 2 ? 7.0f : 0.0f;
    comm.broadcast(b, 2);
    if (b.ptr<float>()[0] != 7.0f) _exit(13);
  });
  for (int c : codes) EXPECT_EQ(c, 0);
}

TEST(CpuCommunicator, APeerThatDiesMakesTheOthersFailInBoundedTime) {
  auto start = std::chrono::steady_clock::now();
  auto codes = run_ranks(2, std::chrono::milliseconds(1500), [](int rank, Communicator& comm) {
    if (rank == 1) _exit(0);  // dies before the collective
    OwnedTensor x({4}, DType::F32);
    comm.all_reduce_sum(x);  // must throw after the timeout, not hang
  });
  auto secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  EXPECT_EQ(codes[0], 3);  // rank 0 reported an error
  EXPECT_LT(secs, 15.0);
}

TEST(DistEnv, ReadsTorchrunStyleVariables) {
  setenv("RANK", "1", 1);
  setenv("WORLD_SIZE", "4", 1);
  setenv("MASTER_PORT", "12345", 1);
  auto e = DistEnv::from_environment();
  EXPECT_EQ(e.rank, 1);
  EXPECT_EQ(e.world_size, 4);
  EXPECT_EQ(e.master_port, 12345);
  setenv("RANK", "9", 1);
  EXPECT_THROW(DistEnv::from_environment(), std::invalid_argument);
  unsetenv("RANK");
  unsetenv("WORLD_SIZE");
  unsetenv("MASTER_PORT");
}

}  // namespace
}  // namespace wm::dist
