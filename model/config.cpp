#include "model/config.h"

#include <cmath>
#include <fstream>
#include <limits>
#include <sstream>
#include <stdexcept>

#include <nlohmann/json.hpp>

namespace wm {
namespace {

using json = nlohmann::json;

[[noreturn]] void fail(const std::string& origin, const std::string& what) {
  throw std::runtime_error(origin + ": " + what);
}

std::string shown(const json& v) {
  std::string s = v.dump();
  return s.size() > 80 ? s.substr(0, 77) + "..." : s;
}

// Integers may be written as 1024 or 1024.0; anything else (strings, 3.5, bools) is an error.
int64_t as_int(const json& v, const std::string& key, const std::string& origin) {
  if (v.is_number_integer()) return v.get<int64_t>();
  if (v.is_number_float()) {
    double d = v.get<double>();
    if (std::isfinite(d) && d == std::floor(d) && std::fabs(d) < 9.0e15) return static_cast<int64_t>(d);
  }
  fail(origin, "key '" + key + "' must be an integer, got " + shown(v));
}

double as_double(const json& v, const std::string& key, const std::string& origin) {
  if (v.is_number()) return v.get<double>();
  fail(origin, "key '" + key + "' must be a number, got " + shown(v));
}

bool as_bool(const json& v, const std::string& key, const std::string& origin) {
  if (v.is_boolean()) return v.get<bool>();
  fail(origin, "key '" + key + "' must be true or false, got " + shown(v));
}

std::string as_string(const json& v, const std::string& key, const std::string& origin) {
  if (v.is_string()) return v.get<std::string>();
  fail(origin, "key '" + key + "' must be a string, got " + shown(v));
}

// A key that is present and not null.
const json* optional_key(const json& j, const std::string& key) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return nullptr;
  return &*it;
}

const json& required_key(const json& j, const std::string& key, const std::string& origin) {
  const json* v = optional_key(j, key);
  if (!v) fail(origin, "missing required key '" + key + "'");
  return *v;
}

// Rejects architecture options this implementation does not have, rather than silently
// computing a different model.
void reject_unsupported(const json& j, const std::string& origin) {
  if (const json* v = optional_key(j, "model_type")) {
    if (as_string(*v, "model_type", origin) != "qwen3")
      fail(origin, "key 'model_type' is " + shown(*v) + "; only \"qwen3\" is supported");
  }
  if (const json* v = optional_key(j, "hidden_act")) {
    if (as_string(*v, "hidden_act", origin) != "silu")
      fail(origin, "key 'hidden_act' is " + shown(*v) + "; only \"silu\" is supported");
  }
  if (const json* v = optional_key(j, "attention_bias")) {
    if (as_bool(*v, "attention_bias", origin))
      fail(origin, "key 'attention_bias' is true; attention biases are not supported");
  }
  if (const json* v = optional_key(j, "use_sliding_window")) {
    if (as_bool(*v, "use_sliding_window", origin))
      fail(origin, "key 'use_sliding_window' is true; sliding-window attention is not supported");
  }
  for (const char* key : {"rope_scaling", "rope_parameters"}) {
    const json* v = optional_key(j, key);
    if (!v) continue;
    if (!v->is_object()) fail(origin, std::string("key '") + key + "' must be an object, got " + shown(*v));
    std::string type = "default";
    if (auto t = v->find("rope_type"); t != v->end()) type = as_string(*t, std::string(key) + ".rope_type", origin);
    else if (auto t2 = v->find("type"); t2 != v->end()) type = as_string(*t2, std::string(key) + ".type", origin);
    if (type != "default")
      fail(origin, std::string("key '") + key + "' asks for rope type \"" + type + "\"; only the default RoPE is supported");
  }
}

}  // namespace

Qwen3Config Qwen3Config::from_json_string(const std::string& text, const std::string& origin) {
  json j;
  try {
    j = json::parse(text);
  } catch (const json::parse_error& e) {
    fail(origin, std::string("invalid JSON: ") + e.what());
  }
  if (!j.is_object()) fail(origin, "expected a JSON object at the top level, got " + shown(j));
  reject_unsupported(j, origin);

  Qwen3Config c;
  c.hidden_size = as_int(required_key(j, "hidden_size", origin), "hidden_size", origin);
  c.intermediate_size = as_int(required_key(j, "intermediate_size", origin), "intermediate_size", origin);
  c.num_hidden_layers = as_int(required_key(j, "num_hidden_layers", origin), "num_hidden_layers", origin);
  c.num_attention_heads = as_int(required_key(j, "num_attention_heads", origin), "num_attention_heads", origin);
  c.num_key_value_heads = as_int(required_key(j, "num_key_value_heads", origin), "num_key_value_heads", origin);
  c.vocab_size = as_int(required_key(j, "vocab_size", origin), "vocab_size", origin);

  auto int_or = [&](const char* key, int64_t fallback) {
    const json* v = optional_key(j, key);
    return v ? as_int(*v, key, origin) : fallback;
  };
  c.head_dim = int_or("head_dim", 128);  // transformers' Qwen3Config default
  c.max_position_embeddings = int_or("max_position_embeddings", 40960);
  c.bos_token_id = int_or("bos_token_id", 151643);

  if (const json* v = optional_key(j, "rope_theta")) {
    c.rope_theta = as_double(*v, "rope_theta", origin);
  } else if (const json* p = optional_key(j, "rope_parameters"); p && p->contains("rope_theta")) {
    c.rope_theta = as_double(p->at("rope_theta"), "rope_parameters.rope_theta", origin);
  }
  if (const json* v = optional_key(j, "rms_norm_eps")) c.rms_norm_eps = as_double(*v, "rms_norm_eps", origin);
  if (const json* v = optional_key(j, "tie_word_embeddings"))
    c.tie_word_embeddings = as_bool(*v, "tie_word_embeddings", origin);
  // Newer transformers write "dtype", older ones "torch_dtype".
  if (const json* v = optional_key(j, "torch_dtype")) c.torch_dtype = as_string(*v, "torch_dtype", origin);
  else if (const json* v2 = optional_key(j, "dtype")) c.torch_dtype = as_string(*v2, "dtype", origin);

  if (const json* v = optional_key(j, "eos_token_id")) {
    c.eos_token_ids.clear();
    if (v->is_array()) {
      for (const auto& e : *v) c.eos_token_ids.push_back(as_int(e, "eos_token_id", origin));
      if (c.eos_token_ids.empty()) fail(origin, "key 'eos_token_id' is an empty list");
    } else {
      c.eos_token_ids.push_back(as_int(*v, "eos_token_id", origin));
    }
    c.eos_token_id = c.eos_token_ids.front();
  }
  c.validate(origin);
  return c;
}

Qwen3Config Qwen3Config::from_json_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error(path + ": cannot open the model config (config.json)");
  std::ostringstream text;
  text << in.rdbuf();
  return from_json_string(text.str(), path);
}

void Qwen3Config::validate(const std::string& origin) const {
  auto positive = [&](const char* key, int64_t v) {
    if (v <= 0) fail(origin, std::string("key '") + key + "' must be positive, got " + std::to_string(v));
  };
  positive("hidden_size", hidden_size);
  positive("intermediate_size", intermediate_size);
  positive("num_hidden_layers", num_hidden_layers);
  positive("num_attention_heads", num_attention_heads);
  positive("num_key_value_heads", num_key_value_heads);
  positive("vocab_size", vocab_size);
  positive("head_dim", head_dim);
  positive("max_position_embeddings", max_position_embeddings);
  if (num_attention_heads % num_key_value_heads != 0)
    fail(origin, "num_attention_heads (" + std::to_string(num_attention_heads) +
                     ") must be a multiple of num_key_value_heads (" + std::to_string(num_key_value_heads) + ")");
  if (head_dim % 2 != 0) fail(origin, "head_dim must be even for RoPE, got " + std::to_string(head_dim));
  // Guards against absurd values whose parameter counts overflow int64.
  constexpr int64_t kMaxDim = int64_t(1) << 24;
  for (auto [key, v] : {std::pair{"hidden_size", hidden_size}, {"intermediate_size", intermediate_size},
                        {"vocab_size", vocab_size}, {"head_dim", head_dim},
                        {"num_attention_heads", num_attention_heads}, {"num_hidden_layers", num_hidden_layers}})
    if (v > kMaxDim) fail(origin, std::string("key '") + key + "' is implausibly large: " + std::to_string(v));
  if (!(rope_theta > 0) || !std::isfinite(rope_theta))
    fail(origin, "rope_theta must be positive, got " + std::to_string(rope_theta));
  if (!(rms_norm_eps > 0) || !std::isfinite(rms_norm_eps))
    fail(origin, "rms_norm_eps must be positive, got " + std::to_string(rms_norm_eps));
  if (bos_token_id < 0) fail(origin, "bos_token_id must be >= 0, got " + std::to_string(bos_token_id));
  if (eos_token_id < 0) fail(origin, "eos_token_id must be >= 0, got " + std::to_string(eos_token_id));
  for (auto id : eos_token_ids)
    if (id < 0) fail(origin, "eos_token_id must be >= 0, got " + std::to_string(id));
}

std::string Qwen3Config::to_json_string() const {
  json j;
  j["architectures"] = json::array({"Qwen3ForCausalLM"});
  j["model_type"] = "qwen3";
  j["attention_bias"] = false;
  j["attention_dropout"] = 0.0;
  j["bos_token_id"] = bos_token_id;
  // eos_token_id alone is authoritative when someone changed it without the list.
  if (eos_token_ids.size() > 1 && eos_token_ids.front() == eos_token_id)
    j["eos_token_id"] = eos_token_ids;
  else
    j["eos_token_id"] = eos_token_id;
  j["head_dim"] = head_dim;
  j["hidden_act"] = "silu";
  j["hidden_size"] = hidden_size;
  j["initializer_range"] = 0.02;
  j["intermediate_size"] = intermediate_size;
  j["max_position_embeddings"] = max_position_embeddings;
  j["max_window_layers"] = num_hidden_layers;
  j["num_attention_heads"] = num_attention_heads;
  j["num_hidden_layers"] = num_hidden_layers;
  j["num_key_value_heads"] = num_key_value_heads;
  j["rms_norm_eps"] = rms_norm_eps;
  // Old (rope_theta, rope_scaling) and new (rope_parameters) spellings, so that transformers
  // 4.51+ and 5.x read the same RoPE.
  j["rope_scaling"] = nullptr;
  j["rope_theta"] = rope_theta;
  j["rope_parameters"] = {{"rope_theta", rope_theta}, {"rope_type", "default"}};
  j["sliding_window"] = nullptr;
  j["tie_word_embeddings"] = tie_word_embeddings;
  j["torch_dtype"] = torch_dtype;  // transformers < 4.56
  j["dtype"] = torch_dtype;        // transformers >= 4.56
  j["use_cache"] = true;
  j["use_sliding_window"] = false;
  j["vocab_size"] = vocab_size;
  return j.dump(2) + "\n";
}

}  // namespace wm
