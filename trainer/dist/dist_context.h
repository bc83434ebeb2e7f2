// The data-parallel world of one training process: where it sits (DistEnv from RANK/WORLD_SIZE/
// LOCAL_RANK, OMPI_* or SLURM_*), the rendezvous store on MASTER_ADDR:MASTER_PORT and the
// communicator for its device (CPU: over the store; CUDA: NCCL on GPU LOCAL_RANK). A world of one
// needs no store and uses the single-process communicator.
#pragma once
#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "kernels/buffer.h"
#include "trainer/dist/communicator.h"
#include "trainer/dist/tcp_store.h"

namespace wm::dist {

class DistContext {
 public:
  // Reads the environment; `timeout` bounds every wait (dist.timeout_s). With CUDA, selects GPU
  // LOCAL_RANK first (so call it before any other CUDA work of the process).
  static std::unique_ptr<DistContext> from_environment(Device device, std::chrono::milliseconds timeout);
  // A world of one (no environment needed).
  static std::unique_ptr<DistContext> single_process();
  // After a failure (destroyed while an exception unwinds), rank 0 does not wait for the others.
  ~DistContext();

  int rank() const { return env_.rank; }
  int world() const { return env_.world_size; }
  int local_rank() const { return env_.local_rank; }
  bool is_root() const { return env_.rank == 0; }
  Device device() const { return device_; }
  std::chrono::milliseconds timeout() const { return env_.timeout; }
  Communicator& comm() { return *comm_; }

  // Sums small host values over ranks (F64; on the CPU in rank order): the same on every rank.
  void all_reduce(std::vector<double>& values);
  void barrier();
  // Progress marker in the store: this rank has finished `steps` steps.
  void mark_progress(int64_t steps);
  // After a failed collective: the progress of every other rank, naming those behind this one,
  // or that rank 0's store is gone. Never throws.
  std::string describe_peers(int64_t my_steps);

 private:
  DistContext() = default;
  DistEnv env_;
  Device device_ = Device::CPU;
  std::unique_ptr<TcpStore> store_;
  std::unique_ptr<Communicator> comm_;  // after store_: destroyed first
  std::unique_ptr<OwnedTensor> device_scratch_;  // all_reduce on the GPU
};

}  // namespace wm::dist
