// Attention-sink ratio: how much attention mass each head puts on the first token of the
// query's document, recovered from q, k and the saved logsumexp (no score matrix needed):
//   p(t -> f) = exp(scale * q_t . k_f - lse_t),  f = doc_start[t].
// A document's first token can only attend to itself (p = 1), so it is left out of the mean.
#pragma once
#include <cstdint>
#include <vector>

#include "model/analysis/layer_observation.h"

namespace wm::analysis {

struct SinkMass {
  std::vector<double> sum_per_head;  // [Hq] sum of p(t -> first) over the counted queries
  int64_t queries = 0;               // queries counted per head
};

// Throws std::invalid_argument naming the layer and the tensor when shapes do not match.
SinkMass attention_sink_mass(const LayerObservation& obs);

}  // namespace wm::analysis
