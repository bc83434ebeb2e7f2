#include "model/param_layout.h"

namespace wm {

int64_t ParamSpec::numel() const {
  int64_t n = 1;
  for (auto d : shape) n *= d;
  return n;
}

std::vector<ParamSpec> qwen3_param_specs(const Qwen3Config& c) {
  const int64_t d = c.hidden_size, f = c.intermediate_size, hd = c.head_dim;
  std::vector<ParamSpec> specs;
  specs.push_back({"model.embed_tokens.weight", {c.vocab_size, d}, ParamKind::Embedding, -1});
  for (int l = 0; l < c.num_hidden_layers; ++l) {
    const std::string p = "model.layers." + std::to_string(l) + ".";
    specs.push_back({p + "input_layernorm.weight", {d}, ParamKind::Norm, l});
    specs.push_back({p + "self_attn.q_proj.weight", {c.q_dim(), d}, ParamKind::Linear, l});
    specs.push_back({p + "self_attn.k_proj.weight", {c.kv_dim(), d}, ParamKind::Linear, l});
    specs.push_back({p + "self_attn.v_proj.weight", {c.kv_dim(), d}, ParamKind::Linear, l});
    specs.push_back({p + "self_attn.q_norm.weight", {hd}, ParamKind::Norm, l});
    specs.push_back({p + "self_attn.k_norm.weight", {hd}, ParamKind::Norm, l});
    specs.push_back({p + "self_attn.o_proj.weight", {d, c.q_dim()}, ParamKind::Linear, l});
    specs.push_back({p + "post_attention_layernorm.weight", {d}, ParamKind::Norm, l});
    specs.push_back({p + "mlp.gate_proj.weight", {f, d}, ParamKind::Linear, l});
    specs.push_back({p + "mlp.up_proj.weight", {f, d}, ParamKind::Linear, l});
    specs.push_back({p + "mlp.down_proj.weight", {d, f}, ParamKind::Linear, l});
  }
  specs.push_back({"model.norm.weight", {d}, ParamKind::Norm, -1});
  if (!c.tie_word_embeddings)
    specs.push_back({"lm_head.weight", {c.vocab_size, d}, ParamKind::LmHead, -1});
  return specs;
}

int find_param(const std::vector<ParamSpec>& specs, const std::string& name) {
  for (size_t i = 0; i < specs.size(); ++i)
    if (specs[i].name == name) return static_cast<int>(i);
  return -1;
}

int64_t total_numel(const std::vector<ParamSpec>& specs) {
  int64_t n = 0;
  for (const auto& s : specs) n += s.numel();
  return n;
}

}  // namespace wm
