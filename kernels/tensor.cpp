#include "kernels/tensor.h"

#include <cmath>
#include <cstring>
#include <limits>
#include <sstream>

namespace wm {

size_t dtype_size(DType dt) {
  switch (dt) {
    case DType::F32: return 4;
    case DType::F64: return 8;
    case DType::BF16: return 2;
    case DType::F16: return 2;
    case DType::I32: return 4;
    case DType::I64: return 8;
  }
  throw std::invalid_argument("dtype_size: unknown dtype");
}

const char* dtype_name(DType dt) {
  switch (dt) {
    case DType::F32: return "f32";
    case DType::F64: return "f64";
    case DType::BF16: return "bf16";
    case DType::F16: return "f16";
    case DType::I32: return "i32";
    case DType::I64: return "i64";
  }
  return "?";
}

const char* device_name(Device d) { return d == Device::CPU ? "cpu" : "cuda"; }

bool is_floating(DType dt) {
  return dt == DType::F32 || dt == DType::F64 || dt == DType::BF16 || dt == DType::F16;
}

float bf16_to_float(bf16 v) {
  uint32_t u = static_cast<uint32_t>(v.bits) << 16;
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}

bf16 float_to_bf16(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  if (std::isnan(f)) return bf16{static_cast<uint16_t>((u >> 16) | 0x40)};
  uint32_t rounding = 0x7FFF + ((u >> 16) & 1);  // round to nearest even
  return bf16{static_cast<uint16_t>((u + rounding) >> 16)};
}

float f16_to_float(f16 v) {
  uint32_t sign = (v.bits >> 15) & 1, exp = (v.bits >> 10) & 0x1F, mant = v.bits & 0x3FF;
  float out;
  if (exp == 0) {
    out = std::ldexp(static_cast<float>(mant), -24);
  } else if (exp == 31) {
    out = mant ? std::numeric_limits<float>::quiet_NaN() : std::numeric_limits<float>::infinity();
  } else {
    out = std::ldexp(static_cast<float>(mant | 0x400), static_cast<int>(exp) - 25);
  }
  return sign ? -out : out;
}

f16 float_to_f16(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  uint32_t sign = (u >> 16) & 0x8000;
  if (std::isnan(f)) return f16{static_cast<uint16_t>(sign | 0x7E00)};
  float a = std::fabs(f);
  if (a >= 65520.0f) return f16{static_cast<uint16_t>(sign | 0x7C00)};  // overflow -> inf
  if (a < 6.103515625e-05f) {  // subnormal: multiples of 2^-24, round to nearest even
    float q = a * 16777216.0f;
    auto m = static_cast<uint32_t>(std::nearbyint(q));
    return f16{static_cast<uint16_t>(sign | m)};
  }
  uint32_t exp = ((u >> 23) & 0xFF) - 127 + 15;
  uint32_t mant = u & 0x7FFFFF;
  uint32_t half = (exp << 10) | (mant >> 13);
  uint32_t rest = mant & 0x1FFF;
  if (rest > 0x1000 || (rest == 0x1000 && (half & 1))) half += 1;
  return f16{static_cast<uint16_t>(sign | half)};
}

Tensor::Tensor(void* d, std::initializer_list<int64_t> s, DType dt, Device dev)
    : data(d), dtype(dt), device(dev) {
  if (s.size() > kMaxDims) throw std::invalid_argument("Tensor: too many dims");
  for (auto x : s) shape[ndim++] = x;
}

int64_t Tensor::numel() const {
  int64_t n = 1;
  for (int i = 0; i < ndim; ++i) n *= shape[i];
  return n;
}

int64_t Tensor::size(int dim) const {
  if (dim < 0) dim += ndim;
  if (dim < 0 || dim >= ndim) throw std::out_of_range("Tensor::size: dim out of range for " + describe());
  return shape[dim];
}

Tensor Tensor::view(std::initializer_list<int64_t> new_shape) const {
  Tensor t = *this;
  t.ndim = 0;
  int infer = -1;
  int64_t known = 1;
  for (auto d : new_shape) {
    if (t.ndim == kMaxDims) throw std::invalid_argument("Tensor::view: too many dims");
    if (d == -1) {
      if (infer >= 0) throw std::invalid_argument("Tensor::view: more than one -1");
      infer = t.ndim;
    } else {
      known *= d;
    }
    t.shape[t.ndim++] = d;
  }
  if (infer >= 0) t.shape[infer] = known ? numel() / known : 0;
  if (t.numel() != numel())
    throw std::invalid_argument("Tensor::view: numel mismatch viewing " + describe());
  return t;
}

Tensor Tensor::slice(int64_t begin, int64_t end) const {
  if (ndim == 0 || begin < 0 || end < begin || end > shape[0])
    throw std::out_of_range("Tensor::slice [" + std::to_string(begin) + "," + std::to_string(end) +
                            ") of " + describe());
  Tensor t = *this;
  int64_t row = numel() / (shape[0] ? shape[0] : 1);
  t.data = static_cast<char*>(data) + static_cast<size_t>(begin * row) * dtype_size(dtype);
  t.shape[0] = end - begin;
  return t;
}

Tensor Tensor::operator[](int64_t i) const {
  Tensor s = slice(i, i + 1);
  for (int d = 1; d < ndim; ++d) s.shape[d - 1] = s.shape[d];
  s.shape[--s.ndim] = 0;
  return s;
}

std::string Tensor::describe() const {
  std::ostringstream os;
  os << dtype_name(dtype) << "[";
  for (int i = 0; i < ndim; ++i) os << (i ? "," : "") << shape[i];
  os << "] " << device_name(device);
  return os.str();
}

bool same_shape(const Tensor& a, const Tensor& b) {
  if (a.ndim != b.ndim) return false;
  for (int i = 0; i < a.ndim; ++i)
    if (a.shape[i] != b.shape[i]) return false;
  return true;
}

}  // namespace wm
