// Tensor: a typed, contiguous, row-major view over memory owned elsewhere (a Buffer).
// Ownership lives in Buffer / OwnedTensor (RAII); Tensor itself is a cheap value type.
#pragma once
#include <array>
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <span>
#include <stdexcept>
#include <string>
#include <type_traits>

namespace wm {

enum class DType : uint8_t { F32, F64, BF16, F16, I32, I64 };
enum class Device : uint8_t { CPU, CUDA };

size_t dtype_size(DType dt);
const char* dtype_name(DType dt);
const char* device_name(Device d);
bool is_floating(DType dt);

// bf16 / fp16 as raw storage types (host side); conversions round to nearest even.
struct bf16 { uint16_t bits; };
struct f16 { uint16_t bits; };
float bf16_to_float(bf16 v);
bf16 float_to_bf16(float f);
float f16_to_float(f16 v);
f16 float_to_f16(float f);

template <class T> constexpr DType dtype_of();
template <> constexpr DType dtype_of<float>() { return DType::F32; }
template <> constexpr DType dtype_of<double>() { return DType::F64; }
template <> constexpr DType dtype_of<bf16>() { return DType::BF16; }
template <> constexpr DType dtype_of<f16>() { return DType::F16; }
template <> constexpr DType dtype_of<int32_t>() { return DType::I32; }
template <> constexpr DType dtype_of<int64_t>() { return DType::I64; }

constexpr int kMaxDims = 4;

struct Tensor {
  void* data = nullptr;
  std::array<int64_t, kMaxDims> shape{};
  int ndim = 0;
  DType dtype = DType::F32;
  Device device = Device::CPU;

  Tensor() = default;
  Tensor(void* data, std::initializer_list<int64_t> shape, DType dtype, Device device);
  template <class Shape>
  static Tensor from_shape(void* data, const Shape& dims, DType dtype, Device device) {
    Tensor t;
    t.data = data; t.dtype = dtype; t.device = device;
    if (dims.size() > kMaxDims) throw std::invalid_argument("Tensor: too many dims");
    for (auto d : dims) t.shape[t.ndim++] = static_cast<int64_t>(d);
    return t;
  }

  int64_t numel() const;
  size_t nbytes() const { return static_cast<size_t>(numel()) * dtype_size(dtype); }
  int64_t size(int dim) const;  // negative dims count from the end
  bool defined() const { return data != nullptr || numel() == 0; }
  bool empty() const { return numel() == 0; }

  // Same memory, new shape (numel must match). One dim may be -1.
  Tensor view(std::initializer_list<int64_t> new_shape) const;
  // Rows [begin, end) along dim 0 (stays contiguous).
  Tensor slice(int64_t begin, int64_t end) const;
  // Row i along dim 0, with that dim dropped.
  Tensor operator[](int64_t i) const;

  template <class T>
  T* ptr() const {
    if (dtype_of<std::remove_const_t<T>>() != dtype)
      throw std::invalid_argument(std::string("Tensor::ptr: dtype is ") + dtype_name(dtype));
    return static_cast<T*>(data);
  }
  // Host-only typed span (throws for CUDA tensors).
  template <class T>
  std::span<T> span() const {
    if (device != Device::CPU) throw std::invalid_argument("Tensor::span on a non-CPU tensor");
    return {ptr<T>(), static_cast<size_t>(numel())};
  }

  std::string describe() const;  // e.g. "bf16[4,128] cuda"
};

bool same_shape(const Tensor& a, const Tensor& b);

}  // namespace wm
