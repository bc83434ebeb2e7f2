#include "model/host_io.h"

#include <stdexcept>

#include "kernels/ops.h"

namespace wm {

std::vector<double> to_host_f64(const Tensor& t) {
  if (!is_floating(t.dtype)) throw std::invalid_argument("to_host_f64: not a float tensor: " + t.describe());
  std::vector<double> out(static_cast<size_t>(t.numel()));
  if (out.empty()) return out;
  const std::vector<int64_t> shape{t.numel()};
  Tensor flat = Tensor::from_shape(t.data, shape, t.dtype, t.device);
  OwnedTensor host(shape, t.dtype, Device::CPU);
  ops::copy(host.t(), flat);
  ops::convert(Tensor::from_shape(out.data(), shape, DType::F64, Device::CPU), host.t());
  return out;
}

void upload_i32(Tensor dst, const std::vector<int32_t>& values) {
  if (dst.dtype != DType::I32 || dst.numel() != static_cast<int64_t>(values.size()))
    throw std::invalid_argument("upload_i32: " + std::to_string(values.size()) + " values into " + dst.describe());
  if (values.empty()) return;
  const std::vector<int64_t> shape{dst.numel()};
  ops::copy(dst, Tensor::from_shape(const_cast<int32_t*>(values.data()), shape, DType::I32, Device::CPU));
}

}  // namespace wm
