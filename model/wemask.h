// WeMask: at chosen layers, scale the top-k "massive activation" dims of each document's first
// (sink) token after the input RMSNorm by (1 - gamma), in forward and (the same entries of the
// gradient) in backward. The selection is made once per layer in forward and reused when the
// layer is recomputed in backward.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "kernels/buffer.h"

namespace wm {

enum class WeMaskSelect { Activation, NormWeight };

struct WeMaskSpec {
  bool enabled = false;
  std::vector<int> layers;  // explicit list (see resolve_wemask_layers)
  double mask_rate = 0.0;   // fraction of hidden dims masked: k = round(mask_rate * hidden)
  double gamma = 1.0;       // entries are scaled by (1 - gamma)
  WeMaskSelect select = WeMaskSelect::Activation;

  bool masks_layer(int layer) const;
  int64_t num_dims(int64_t hidden) const;
  // Throws std::invalid_argument naming the bad field.
  void validate(int num_layers, int64_t hidden) const;
};

// "from_me": layers me_layer..num_layers-1; "me_only": {me_layer}. Throws on an unknown mode
// or an out-of-range layer.
std::vector<int> resolve_wemask_layers(const std::string& mode, int me_layer, int num_layers);
WeMaskSelect parse_wemask_select(const std::string& name);  // "activation" | "norm_weight"

// Indices of the k largest scores, largest first; ties go to the lower index.
std::vector<int32_t> top_k_indices(const std::vector<double>& scores, int64_t k);

// Per-layer selection state of one model.
class WeMask {
 public:
  WeMask(WeMaskSpec spec, int num_layers, int64_t hidden, Device device);
  const WeMaskSpec& spec() const { return spec_; }
  bool active(int layer) const { return spec_.enabled && spec_.masks_layer(layer); }

  // Chooses the dims of `layer` from normed [T, d] (before masking) over `rows`, or from the
  // layer's input-norm weight, and records them.
  void select(int layer, const Tensor& normed, const Tensor& rows, const Tensor& norm_weight);
  // x[rows, dims] *= (1 - gamma): forward on the normed activation, backward on its gradient.
  void apply(int layer, Tensor x, const Tensor& rows) const;
  // The dims recorded for `layer` by the last forward (empty if none).
  const std::vector<int32_t>& selected_dims(int layer) const { return dims_host_[layer]; }

 private:
  WeMaskSpec spec_;
  int64_t hidden_;
  std::vector<std::vector<int32_t>> dims_host_;
  std::vector<OwnedTensor> dims_device_;
  OwnedTensor mean_abs_;  // F32 [d]
};

}  // namespace wm
