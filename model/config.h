// Qwen3 architecture hyper-parameters, as in a Hugging Face `config.json`.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace wm {

struct Qwen3Config {
  int64_t vocab_size = 151936;
  int64_t hidden_size = 1024;
  int64_t intermediate_size = 3072;
  int64_t num_hidden_layers = 28;
  int64_t num_attention_heads = 16;
  int64_t num_key_value_heads = 8;
  int64_t head_dim = 128;
  int64_t max_position_embeddings = 40960;
  double rope_theta = 1e6;
  double rms_norm_eps = 1e-6;
  bool tie_word_embeddings = true;
  std::string torch_dtype = "bfloat16";  // dtype recorded in config.json
  int64_t bos_token_id = 151643;
  int64_t eos_token_id = 151645;             // the first of eos_token_ids
  std::vector<int64_t> eos_token_ids = {151645};  // config.json may hold an int or a list

  // Reads a HF config.json; throws std::runtime_error naming the file and the bad/missing key.
  // Optional keys take the Hugging Face Qwen3Config defaults (head_dim 128 as in transformers).
  static Qwen3Config from_json_file(const std::string& path);
  static Qwen3Config from_json_string(const std::string& text, const std::string& origin);
  std::string to_json_string() const;  // HF-compatible config.json (model_type "qwen3")
  // Throws if the values are inconsistent (heads % kv_heads, positive sizes ...).
  void validate(const std::string& origin) const;

  int64_t q_dim() const { return num_attention_heads * head_dim; }
  int64_t kv_dim() const { return num_key_value_heads * head_dim; }
  // Parameters that take part in matmuls (lm_head counted once), for MFU.
  int64_t matmul_params() const {
    int64_t d = hidden_size;
    int64_t per_layer = d * (q_dim() + 2 * kv_dim()) + q_dim() * d + 3 * d * intermediate_size;
    return num_hidden_layers * per_layer + vocab_size * d;
  }
};

}  // namespace wm
