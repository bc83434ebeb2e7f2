// Random initialisation of a model's parameters (Hugging Face Qwen3 style): linear and embedding
// weights ~ N(0, std^2), RMSNorm weights = 1. Deterministic for a seed, on any device and dtype.
#pragma once
#include <cstdint>

#include "model/param_store.h"

namespace wm {

void init_random_weights(ParamStore& store, uint64_t seed, double stddev = 0.02);

}  // namespace wm
