#include "kernels/backend.h"

#include <stdexcept>

namespace wm {

bool cuda_available() {
#ifdef WEMASK_HAVE_CUDA
  return cuda::device_present();
#else
  return false;
#endif
}

int64_t cuda_memory_in_use() {
#ifdef WEMASK_HAVE_CUDA
  return cuda::device_present() ? cuda::memory_in_use() : -1;
#else
  return -1;
#endif
}

Backend& backend(Device device) {
  if (device == Device::CPU) return cpu::cpu_backend();
#ifdef WEMASK_HAVE_CUDA
  if (!cuda::device_present()) throw std::runtime_error("CUDA tensor used but no CUDA GPU is present");
  return cuda::cuda_backend();
#else
  throw std::runtime_error("CUDA tensor used but wemask was built without CUDA");
#endif
}

}  // namespace wm
