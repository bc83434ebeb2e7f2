#pragma once
#include <string>
#include <vector>

#include "kernels/tensor.h"

namespace wm {

// A parameter (or any tensor) under its Hugging Face name, e.g. "model.layers.3.mlp.up_proj.weight".
struct NamedTensor {
  std::string name;
  Tensor tensor;
};

using NamedTensors = std::vector<NamedTensor>;

}  // namespace wm
