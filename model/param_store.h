// Parameters and their gradients, each in ONE flat buffer in qwen3_param_specs order, so that
// the trainer can all-reduce / clip / update a single tensor. Each parameter starts at an offset
// aligned to kParamAlign elements, except inside the fused groups (q,k,v and gate,up) whose members
// are adjacent, so [gate; up] is one [2F, d] tensor. Alignment gaps stay zero in both buffers.
#pragma once
#include <string>
#include <vector>

#include "kernels/buffer.h"
#include "model/config.h"
#include "model/named_tensor.h"
#include "model/param_layout.h"

namespace wm {

class ParamStore {
 public:
  static constexpr int64_t kParamAlign = 64;  // elements

  ParamStore(const Qwen3Config& cfg, DType dtype, Device device);

  const std::vector<ParamSpec>& specs() const { return specs_; }
  DType dtype() const { return dtype_; }
  Device device() const { return device_; }

  // The whole flat buffers (1-D, padded_numel() elements).
  Tensor flat_params() const { return flat_params_; }
  Tensor flat_grads() const { return flat_grads_; }
  int64_t padded_numel() const { return flat_params_.numel(); }
  int64_t offset(size_t i) const { return offsets_[i]; }  // element offset of parameter i

  const NamedTensors& params() const { return params_; }
  const NamedTensors& grads() const { return grads_; }
  Tensor param(size_t i) const { return params_[i].tensor; }
  Tensor grad(size_t i) const { return grads_[i].tensor; }
  // By HF name; throws std::out_of_range naming the parameter when absent.
  Tensor param(const std::string& name) const;
  Tensor grad(const std::string& name) const;
  int index(const std::string& name) const;

  void zero_grad();
  // Copies (and converts) every parameter from `src` by name; src tensors may be any float
  // dtype on any device. Throws naming the missing parameter or the shape mismatch.
  void load(const NamedTensors& src, const std::string& origin);

 private:
  std::vector<ParamSpec> specs_;
  DType dtype_;
  Device device_;
  std::vector<int64_t> offsets_;
  Buffer param_buf_, grad_buf_;
  Tensor flat_params_, flat_grads_;
  NamedTensors params_, grads_;
};

}  // namespace wm
