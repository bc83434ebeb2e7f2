#include "kernels/buffer.h"

#include <cstdlib>
#include <new>
#include <string>

#include "kernels/device_memory.h"

namespace wm {

void Buffer::Deleter::operator()(void* p) const {
  if (!p) return;
#ifdef WEMASK_HAVE_CUDA
  if (device == Device::CUDA) {
    cuda::device_free(p);
    return;
  }
#endif
  std::free(p);
}

Buffer::Buffer(size_t nbytes, Device device) : size_(nbytes), device_(device) {
  void* p = nullptr;
  size_t alloc = nbytes ? nbytes : 1;
  if (device == Device::CUDA) {
#ifdef WEMASK_HAVE_CUDA
    p = cuda::device_malloc(alloc);
#else
    throw std::runtime_error("cannot allocate CUDA memory: wemask was built without CUDA");
#endif
  } else {
    // 256-byte aligned like cudaMalloc, so Arena slices are aligned on both devices.
    p = std::aligned_alloc(256, (alloc + 255) & ~size_t(255));
    if (!p) throw std::bad_alloc();
  }
  ptr_ = std::unique_ptr<void, Deleter>(p, Deleter{device});
}

OwnedTensor::OwnedTensor(std::initializer_list<int64_t> shape, DType dtype, Device device)
    : OwnedTensor(std::span<const int64_t>(shape.begin(), shape.size()), dtype, device) {}

OwnedTensor::OwnedTensor(std::span<const int64_t> shape, DType dtype, Device device) {
  view_ = Tensor::from_shape(nullptr, shape, dtype, device);
  buffer_ = Buffer(view_.nbytes(), device);
  view_.data = buffer_.data();
}

Tensor Arena::allocate(std::span<const int64_t> shape, DType dtype) {
  Tensor t = Tensor::from_shape(nullptr, shape, dtype, buffer_.device());
  size_t need = aligned(t.nbytes());
  if (used_ + need > buffer_.size())
    throw std::runtime_error("Arena: out of space (" + std::to_string(used_ + need) + " > " +
                             std::to_string(buffer_.size()) + " bytes) for " + t.describe());
  t.data = static_cast<char*>(buffer_.data()) + used_;
  used_ += need;
  return t;
}

}  // namespace wm
