// Owning device or host memory (RAII). CPU memory is 64-byte aligned; CUDA memory comes from
// cudaMalloc through the CUDA backend (an error when the build has no CUDA).
#pragma once
#include <cstddef>
#include <memory>
#include <vector>

#include "kernels/tensor.h"

namespace wm {

class Buffer {
 public:
  Buffer() = default;
  Buffer(size_t nbytes, Device device);
  Buffer(Buffer&&) noexcept = default;
  Buffer& operator=(Buffer&&) noexcept = default;
  Buffer(const Buffer&) = delete;
  Buffer& operator=(const Buffer&) = delete;

  void* data() const { return ptr_.get(); }
  size_t size() const { return size_; }
  Device device() const { return device_; }

 private:
  struct Deleter {
    Device device;
    void operator()(void* p) const;
  };
  std::unique_ptr<void, Deleter> ptr_{nullptr, Deleter{Device::CPU}};
  size_t size_ = 0;
  Device device_ = Device::CPU;
};

// A tensor that owns its memory.
class OwnedTensor {
 public:
  OwnedTensor() = default;
  OwnedTensor(std::initializer_list<int64_t> shape, DType dtype, Device device = Device::CPU);
  OwnedTensor(std::span<const int64_t> shape, DType dtype, Device device = Device::CPU);
  const Tensor& t() const { return view_; }
  operator const Tensor&() const { return view_; }
  template <class T> T* ptr() const { return view_.ptr<T>(); }
  template <class T> std::span<T> span() const { return view_.span<T>(); }

 private:
  Buffer buffer_;
  Tensor view_;
};

// Hands out aligned views from one Buffer (parameters, gradients, activation arenas).
class Arena {
 public:
  Arena() = default;
  Arena(size_t nbytes, Device device) : buffer_(nbytes, device) {}
  Tensor allocate(std::span<const int64_t> shape, DType dtype);
  Tensor allocate(std::initializer_list<int64_t> shape, DType dtype) {
    std::vector<int64_t> s(shape);
    return allocate(std::span<const int64_t>(s), dtype);
  }
  size_t used() const { return used_; }
  size_t capacity() const { return buffer_.size(); }
  void reset() { used_ = 0; }
  Device device() const { return buffer_.device(); }
  static size_t aligned(size_t nbytes) { return (nbytes + 255) & ~size_t(255); }

 private:
  Buffer buffer_;
  size_t used_ = 0;
};

}  // namespace wm
