// Raw device allocation, implemented by the CUDA backend (kernels/cuda/). Used only by Buffer.
#pragma once
#include <cstddef>

namespace wm::cuda {
void* device_malloc(size_t nbytes);  // throws std::runtime_error (with the size) on failure
void device_free(void* p) noexcept;
}  // namespace wm::cuda
