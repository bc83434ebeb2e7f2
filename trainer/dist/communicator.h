// Collective communication for data parallelism. One interface, two implementations:
// NCCL for GPUs and a CPU one over the TCP store (so that the data-parallel logic is tested in
// CI with several processes and no GPU). All collectives are in place or out-of-place on flat
// tensors; the CPU implementation sums in rank order, so every rank gets bit-identical results.
#pragma once
#include <chrono>
#include <memory>
#include <string>

#include "kernels/tensor.h"

namespace wm::dist {

class TcpStore;

// Where this process sits, read from the environment the way torchrun, mpirun and srun set it:
// RANK/WORLD_SIZE/LOCAL_RANK, else OMPI_COMM_WORLD_{RANK,SIZE,LOCAL_RANK}, else
// SLURM_{PROCID,NTASKS,LOCALID}; MASTER_ADDR (default 127.0.0.1) and MASTER_PORT (default 29500).
// WEMASK_DIST_TIMEOUT_S bounds every wait (default 300 s).
struct DistEnv {
  int rank = 0;
  int world_size = 1;
  int local_rank = 0;
  std::string master_addr = "127.0.0.1";
  int master_port = 29500;
  std::chrono::milliseconds timeout{300000};
  static DistEnv from_environment();
};

class Communicator {
 public:
  virtual ~Communicator() = default;
  virtual int rank() const = 0;
  virtual int world_size() const = 0;
  // x = sum over ranks of x.
  virtual void all_reduce_sum(Tensor x) = 0;
  // in [world * n] -> out [n]: this rank's slice of the sum over ranks.
  virtual void reduce_scatter_sum(Tensor out, const Tensor& in) = 0;
  // in [n] -> out [world * n]: slices in rank order.
  virtual void all_gather(Tensor out, const Tensor& in) = 0;
  virtual void broadcast(Tensor x, int root) = 0;
  virtual void barrier() = 0;
  // Waits for the collectives already enqueued (GPU: on the backend stream). Bounded by the
  // timeout: a dead or hung peer turns into an error naming this rank, never a hang.
  virtual void synchronize() = 0;
  // GPU: enqueue the following collectives on `cuda_stream` (a cudaStream_t; nullptr: the backend
  // stream again), so that they overlap with compute. CPU: ignored (collectives are synchronous).
  virtual void set_stream(void* cuda_stream) {}
};

// A world of one: every collective is the identity.
std::unique_ptr<Communicator> make_single_process_communicator();
// CPU tensors (F32/F64), data exchanged through the store. The store must outlive it.
std::unique_ptr<Communicator> make_cpu_communicator(TcpStore& store, int rank, int world_size);

}  // namespace wm::dist

namespace wm::dist {
// NCCL over the CUDA backend's stream (tensors F32/BF16 on the GPU). Rank 0 creates the unique
// id and shares it through the store. Operations are asynchronous on that stream; a rank that
// dies or hangs is detected by synchronize(), which aborts the communicator after the timeout.
// Throws std::runtime_error when the build has no NCCL.
std::unique_ptr<Communicator> make_nccl_communicator(TcpStore& store, int rank, int world_size,
                                                     std::chrono::milliseconds timeout);
}  // namespace wm::dist
