// The canonical list of Qwen3 parameters: Hugging Face names, shapes and flat-buffer order.
// Order matters: parameters, gradients and optimizer state live in flat buffers in this order,
// and some neighbours are used as one tensor (q,k,v weights are adjacent; gate_proj is
// immediately followed by up_proj so that [gate; up] is a single [2F, d] weight).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "model/config.h"

namespace wm {

enum class ParamKind : uint8_t { Embedding, Norm, Linear, LmHead };

struct ParamSpec {
  std::string name;            // HF name, e.g. "model.layers.0.self_attn.q_proj.weight"
  std::vector<int64_t> shape;  // HF shape ([out, in] for linear weights)
  ParamKind kind;
  int layer;                   // -1 for embedding, final norm and lm_head
  int64_t numel() const;
};

// Every parameter of the model in flat-buffer order. lm_head.weight is listed only when
// the embeddings are not tied.
std::vector<ParamSpec> qwen3_param_specs(const Qwen3Config& cfg);

// Index of a named parameter in `specs`, or -1.
int find_param(const std::vector<ParamSpec>& specs, const std::string& name);

int64_t total_numel(const std::vector<ParamSpec>& specs);

}  // namespace wm
