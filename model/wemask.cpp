#include "model/wemask.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <stdexcept>

#include "kernels/ops.h"
#include "model/host_io.h"

namespace wm {

bool WeMaskSpec::masks_layer(int layer) const {
  return std::find(layers.begin(), layers.end(), layer) != layers.end();
}

int64_t WeMaskSpec::num_dims(int64_t hidden) const {
  return static_cast<int64_t>(std::llround(mask_rate * static_cast<double>(hidden)));
}

void WeMaskSpec::validate(int num_layers, int64_t hidden) const {
  if (!enabled) return;
  if (!(mask_rate >= 0.0 && mask_rate <= 1.0))
    throw std::invalid_argument("wemask.mask_rate must be in [0, 1], got " + std::to_string(mask_rate));
  if (!std::isfinite(gamma))
    throw std::invalid_argument("wemask.gamma must be finite, got " + std::to_string(gamma));
  for (int l : layers)
    if (l < 0 || l >= num_layers)
      throw std::invalid_argument("wemask.layers: layer " + std::to_string(l) + " is outside [0, " +
                                  std::to_string(num_layers) + ")");
  if (num_dims(hidden) > hidden) throw std::invalid_argument("wemask: more dims than hidden size");
}

std::vector<int> resolve_wemask_layers(const std::string& mode, int me_layer, int num_layers) {
  if (me_layer < 0 || me_layer >= num_layers)
    throw std::invalid_argument("wemask.me_layer " + std::to_string(me_layer) + " is outside [0, " +
                                std::to_string(num_layers) + ")");
  if (mode == "me_only") return {me_layer};
  if (mode == "from_me") {
    std::vector<int> layers(num_layers - me_layer);
    std::iota(layers.begin(), layers.end(), me_layer);
    return layers;
  }
  throw std::invalid_argument("wemask.layers mode '" + mode + "' is not one of from_me, me_only");
}

WeMaskSelect parse_wemask_select(const std::string& name) {
  if (name == "activation") return WeMaskSelect::Activation;
  if (name == "norm_weight") return WeMaskSelect::NormWeight;
  throw std::invalid_argument("wemask.select '" + name + "' is not one of activation, norm_weight");
}

std::vector<int32_t> top_k_indices(const std::vector<double>& scores, int64_t k) {
  std::vector<int32_t> idx(scores.size());
  std::iota(idx.begin(), idx.end(), 0);
  k = std::clamp<int64_t>(k, 0, static_cast<int64_t>(idx.size()));
  std::partial_sort(idx.begin(), idx.begin() + k, idx.end(), [&](int32_t a, int32_t b) {
    return scores[a] != scores[b] ? scores[a] > scores[b] : a < b;
  });
  idx.resize(k);
  return idx;
}

WeMask::WeMask(WeMaskSpec spec, int num_layers, int64_t hidden, Device device)
    : spec_(std::move(spec)), hidden_(hidden), dims_host_(num_layers), dims_device_(num_layers) {
  spec_.validate(num_layers, hidden);
  if (!spec_.enabled) return;
  const int64_t k = spec_.num_dims(hidden);
  for (int l = 0; l < num_layers; ++l)
    if (spec_.masks_layer(l)) dims_device_[l] = OwnedTensor({k}, DType::I32, device);
  mean_abs_ = OwnedTensor({hidden}, DType::F32, device);
}

void WeMask::select(int layer, const Tensor& normed, const Tensor& rows, const Tensor& norm_weight) {
  if (!active(layer)) return;
  const int64_t k = spec_.num_dims(hidden_);
  std::vector<double> scores;
  if (spec_.select == WeMaskSelect::NormWeight) {
    scores = to_host_f64(norm_weight);
    for (auto& s : scores) s = std::abs(s);
  } else {
    if (rows.numel() == 0) {  // no sink row in this batch: nothing to mask
      dims_host_[layer].clear();
      return;
    }
    ops::mean_abs_rows(mean_abs_.t(), normed, rows);
    scores = to_host_f64(mean_abs_.t());
  }
  dims_host_[layer] = top_k_indices(scores, k);
  upload_i32(dims_device_[layer].t(), dims_host_[layer]);
}

void WeMask::apply(int layer, Tensor x, const Tensor& rows) const {
  if (!active(layer) || rows.numel() == 0 || dims_host_[layer].empty()) return;
  ops::scale_entries(x, rows, dims_device_[layer].t(), static_cast<float>(1.0 - spec_.gamma));
}

}  // namespace wm
