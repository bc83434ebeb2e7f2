#include "trainer/dist/side_stream.h"

#include <stdexcept>
#include <string>

#ifdef WEMASK_HAVE_CUDA
#include <cuda_runtime.h>

#include "kernels/cuda/cuda_context.h"
#endif

namespace wm::dist {

#ifdef WEMASK_HAVE_CUDA

namespace {
void check(cudaError_t e, const char* what) {
  if (e != cudaSuccess) throw std::runtime_error(std::string(what) + ": " + cudaGetErrorString(e));
}
}  // namespace

void select_local_cuda_device(int local_rank) {
  int count = 0;
  check(cudaGetDeviceCount(&count), "cudaGetDeviceCount");
  // One visible GPU (e.g. srun --gpus-per-task=1 sets CUDA_VISIBLE_DEVICES per rank): use it.
  const int device = count == 1 ? 0 : local_rank;
  if (device < 0 || device >= count)
    throw std::runtime_error("LOCAL_RANK " + std::to_string(local_rank) + " has no GPU: this node shows " +
                             std::to_string(count) + " (start at most one rank per GPU)");
  check(cudaSetDevice(device), "cudaSetDevice");
}

SideStream::SideStream(Device device) {
  if (device != Device::CUDA) return;
  cudaStream_t s;
  cudaEvent_t a, b;
  check(cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking), "cudaStreamCreate");
  check(cudaEventCreateWithFlags(&a, cudaEventDisableTiming), "cudaEventCreate");
  check(cudaEventCreateWithFlags(&b, cudaEventDisableTiming), "cudaEventCreate");
  stream_ = s;
  backend_done_ = a;
  side_done_ = b;
}

SideStream::~SideStream() {
  if (!stream_) return;
  cudaEventDestroy(static_cast<cudaEvent_t>(backend_done_));
  cudaEventDestroy(static_cast<cudaEvent_t>(side_done_));
  cudaStreamDestroy(static_cast<cudaStream_t>(stream_));
}

void SideStream::wait_for_backend() {
  if (!stream_) return;
  auto ev = static_cast<cudaEvent_t>(backend_done_);
  check(cudaEventRecord(ev, cuda::stream()), "cudaEventRecord");
  check(cudaStreamWaitEvent(static_cast<cudaStream_t>(stream_), ev, 0), "cudaStreamWaitEvent");
}

void SideStream::backend_waits() {
  if (!stream_) return;
  auto ev = static_cast<cudaEvent_t>(side_done_);
  check(cudaEventRecord(ev, static_cast<cudaStream_t>(stream_)), "cudaEventRecord");
  check(cudaStreamWaitEvent(cuda::stream(), ev, 0), "cudaStreamWaitEvent");
}

#else

void select_local_cuda_device(int) { throw std::runtime_error("this wemask build has no CUDA"); }
SideStream::SideStream(Device device) {
  if (device == Device::CUDA) throw std::runtime_error("this wemask build has no CUDA");
}
SideStream::~SideStream() = default;
void SideStream::wait_for_backend() {}
void SideStream::backend_waits() {}

#endif

}  // namespace wm::dist
