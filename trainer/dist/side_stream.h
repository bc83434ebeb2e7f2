// GPU plumbing for data parallelism: binding a process to its local GPU, and a second CUDA stream
// on which gradient collectives run while the backward pass goes on (ordered by events). On the
// CPU (or a build without CUDA) every call is a no-op and collectives simply run in place.
#pragma once
#include "kernels/tensor.h"

namespace wm::dist {

// cudaSetDevice(local_rank) (or the only visible GPU); must run before the first CUDA op of the
// process. Throws naming the rank when the node shows fewer GPUs.
void select_local_cuda_device(int local_rank);

class SideStream {
 public:
  explicit SideStream(Device device);
  ~SideStream();
  SideStream(const SideStream&) = delete;
  SideStream& operator=(const SideStream&) = delete;

  void* handle() const { return stream_; }  // cudaStream_t, nullptr on the CPU
  // The side stream waits for everything enqueued so far on the backend stream.
  void wait_for_backend();
  // The backend stream waits for everything enqueued so far on the side stream.
  void backend_waits();

 private:
  void* stream_ = nullptr;
  void* backend_done_ = nullptr;  // cudaEvent_t
  void* side_done_ = nullptr;
};

}  // namespace wm::dist
