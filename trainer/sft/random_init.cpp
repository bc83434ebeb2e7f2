#include "trainer/sft/random_init.h"

#include <random>

#include "kernels/buffer.h"
#include "kernels/ops.h"

namespace wm {

void init_random_weights(ParamStore& store, uint64_t seed, double stddev) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> normal(0.0f, static_cast<float>(stddev));
  for (size_t i = 0; i < store.specs().size(); ++i) {
    const ParamSpec& spec = store.specs()[i];
    OwnedTensor host(std::span<const int64_t>(spec.shape), DType::F32, Device::CPU);
    auto values = host.span<float>();
    if (spec.kind == ParamKind::Norm) {
      for (auto& v : values) v = 1.0f;
    } else {
      for (auto& v : values) v = normal(rng);
    }
    Tensor dst = store.param(i);
    if (dst.dtype == DType::F32) {
      ops::copy(dst, host.t());
    } else {  // convert on the host, then copy to the device
      OwnedTensor staged(std::span<const int64_t>(spec.shape), dst.dtype, Device::CPU);
      ops::convert(staged.t(), host.t());
      ops::copy(dst, staged.t());
    }
  }
}

}  // namespace wm
