// Small host <-> device helpers for the model (read values back, upload index lists).
#pragma once
#include <cstdint>
#include <vector>

#include "kernels/buffer.h"

namespace wm {

// Every element of a float tensor (any dtype, any device) as double, in order.
std::vector<double> to_host_f64(const Tensor& t);
// Copies host ints into `dst` (I32 on any device, numel == values.size()).
void upload_i32(Tensor dst, const std::vector<int32_t>& values);

}  // namespace wm
