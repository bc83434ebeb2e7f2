#include "model/param_store.h"

#include <stdexcept>

#include "kernels/ops.h"

namespace wm {

namespace {

// The next parameter is fused with this one (q->k->v, gate->up): no gap between them.
bool fused_with_next(const std::string& name) {
  auto ends_with = [&](const char* s) {
    const std::string suffix(s);
    return name.size() >= suffix.size() && name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0;
  };
  return ends_with("q_proj.weight") || ends_with("k_proj.weight") || ends_with("gate_proj.weight");
}

std::string shape_str(const Tensor& t) {
  std::string s = "[";
  for (int i = 0; i < t.ndim; ++i) s += (i ? "," : "") + std::to_string(t.shape[i]);
  return s + "]";
}

}  // namespace

ParamStore::ParamStore(const Qwen3Config& cfg, DType dtype, Device device)
    : specs_(qwen3_param_specs(cfg)), dtype_(dtype), device_(device) {
  int64_t n = 0;
  for (const auto& s : specs_) {
    offsets_.push_back(n);
    n += s.numel();
    if (!fused_with_next(s.name)) n = (n + kParamAlign - 1) / kParamAlign * kParamAlign;
  }
  const size_t bytes = static_cast<size_t>(n) * dtype_size(dtype);
  param_buf_ = Buffer(bytes, device);
  grad_buf_ = Buffer(bytes, device);
  flat_params_ = Tensor(param_buf_.data(), {n}, dtype, device);
  flat_grads_ = Tensor(grad_buf_.data(), {n}, dtype, device);
  ops::zero(flat_params_);
  ops::zero(flat_grads_);
  const size_t esize = dtype_size(dtype);
  for (size_t i = 0; i < specs_.size(); ++i) {
    auto at = [&](const Buffer& b) { return static_cast<char*>(b.data()) + offsets_[i] * esize; };
    params_.push_back({specs_[i].name, Tensor::from_shape(at(param_buf_), specs_[i].shape, dtype, device)});
    grads_.push_back({specs_[i].name, Tensor::from_shape(at(grad_buf_), specs_[i].shape, dtype, device)});
  }
}

int ParamStore::index(const std::string& name) const {
  const int i = find_param(specs_, name);
  if (i < 0) throw std::out_of_range("ParamStore: no parameter named '" + name + "'");
  return i;
}

Tensor ParamStore::param(const std::string& name) const { return params_[index(name)].tensor; }
Tensor ParamStore::grad(const std::string& name) const { return grads_[index(name)].tensor; }

void ParamStore::zero_grad() { ops::zero(flat_grads_); }

void ParamStore::load(const NamedTensors& src, const std::string& origin) {
  for (const auto& p : params_) {
    const NamedTensor* found = nullptr;
    for (const auto& s : src)
      if (s.name == p.name) found = &s;
    if (!found) throw std::runtime_error(origin + ": missing parameter '" + p.name + "'");
    const Tensor& from = found->tensor;
    if (from.numel() != p.tensor.numel() || from.ndim != p.tensor.ndim)
      throw std::runtime_error(origin + ": parameter '" + p.name + "' has shape " + shape_str(from) +
                               ", expected " + shape_str(p.tensor));
    for (int d = 0; d < from.ndim; ++d)
      if (from.shape[d] != p.tensor.shape[d])
        throw std::runtime_error(origin + ": parameter '" + p.name + "' has shape " + shape_str(from) +
                                 ", expected " + shape_str(p.tensor));
    if (from.dtype == dtype_) {
      ops::copy(p.tensor, from);
    } else if (from.device == device_) {
      ops::convert(p.tensor, from);
    } else {  // convert on the source's device, then move
      OwnedTensor tmp(std::span<const int64_t>(from.shape.data(), from.ndim), dtype_, from.device);
      ops::convert(tmp.t(), from);
      ops::copy(p.tensor, tmp.t());
    }
  }
}

}  // namespace wm
