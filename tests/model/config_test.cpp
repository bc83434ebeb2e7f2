#include "model/config.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "tests/model/io_test_util.h"

namespace wm {
namespace {

using json = nlohmann::json;
using testio::expect_error;

// The config.json of Qwen3-0.6B (tied embeddings, eos as an int).
json qwen3_0_6b() {
  return json::parse(R"({
    "architectures": ["Qwen3ForCausalLM"], "attention_bias": false, "attention_dropout": 0.0,
    "bos_token_id": 151643, "eos_token_id": 151645, "head_dim": 128, "hidden_act": "silu",
    "hidden_size": 1024, "initializer_range": 0.02, "intermediate_size": 3072,
    "max_position_embeddings": 40960, "max_window_layers": 28, "model_type": "qwen3",
    "num_attention_heads": 16, "num_hidden_layers": 28, "num_key_value_heads": 8,
    "rms_norm_eps": 1e-06, "rope_scaling": null, "rope_theta": 1000000, "sliding_window": null,
    "tie_word_embeddings": true, "torch_dtype": "bfloat16", "transformers_version": "4.51.0",
    "use_cache": true, "use_sliding_window": false, "vocab_size": 151936})");
}

TEST(Qwen3ConfigJson, ParsesTiedQwen3Config) {
  Qwen3Config c = Qwen3Config::from_json_string(qwen3_0_6b().dump(), "config.json");
  EXPECT_EQ(c.hidden_size, 1024);
  EXPECT_EQ(c.intermediate_size, 3072);
  EXPECT_EQ(c.num_hidden_layers, 28);
  EXPECT_EQ(c.num_attention_heads, 16);
  EXPECT_EQ(c.num_key_value_heads, 8);
  EXPECT_EQ(c.head_dim, 128);
  EXPECT_EQ(c.vocab_size, 151936);
  EXPECT_DOUBLE_EQ(c.rope_theta, 1e6);
  EXPECT_DOUBLE_EQ(c.rms_norm_eps, 1e-6);
  EXPECT_TRUE(c.tie_word_embeddings);
  EXPECT_EQ(c.torch_dtype, "bfloat16");
  EXPECT_EQ(c.bos_token_id, 151643);
  EXPECT_EQ(c.eos_token_id, 151645);
  EXPECT_EQ(c.eos_token_ids, (std::vector<int64_t>{151645}));
}

TEST(Qwen3ConfigJson, ParsesUntiedConfigWithEosList) {
  json j = qwen3_0_6b();
  j["tie_word_embeddings"] = false;
  j["eos_token_id"] = {7, 3};
  j["hidden_size"] = 64;
  j["head_dim"] = 16;
  j["num_attention_heads"] = 4;
  j["num_key_value_heads"] = 2;
  j["rope_theta"] = 10000.0;
  Qwen3Config c = Qwen3Config::from_json_string(j.dump(), "untied.json");
  EXPECT_FALSE(c.tie_word_embeddings);
  EXPECT_EQ(c.eos_token_id, 7);
  EXPECT_EQ(c.eos_token_ids, (std::vector<int64_t>{7, 3}));
  EXPECT_EQ(c.q_dim(), 64);
  EXPECT_EQ(c.kv_dim(), 32);
  EXPECT_DOUBLE_EQ(c.rope_theta, 1e4);
}

TEST(Qwen3ConfigJson, OptionalKeysTakeQwen3Defaults) {
  json j = {{"hidden_size", 64}, {"intermediate_size", 128}, {"num_hidden_layers", 2},
            {"num_attention_heads", 4}, {"num_key_value_heads", 2}, {"vocab_size", 320}};
  Qwen3Config c = Qwen3Config::from_json_string(j.dump(), "minimal.json");
  EXPECT_EQ(c.head_dim, 128);  // transformers' Qwen3Config default, not hidden/heads
  EXPECT_DOUBLE_EQ(c.rope_theta, 1e6);
  EXPECT_DOUBLE_EQ(c.rms_norm_eps, 1e-6);
  EXPECT_TRUE(c.tie_word_embeddings);
  EXPECT_EQ(c.max_position_embeddings, 40960);
  EXPECT_EQ(c.bos_token_id, 151643);
  EXPECT_EQ(c.eos_token_id, 151645);
}

TEST(Qwen3ConfigJson, NewerTransformersKeys) {
  json j = qwen3_0_6b();
  j.erase("rope_theta");
  j.erase("torch_dtype");
  j.erase("rope_scaling");
  j["rope_parameters"] = {{"rope_type", "default"}, {"rope_theta", 5000.0}};
  j["dtype"] = "float32";
  Qwen3Config c = Qwen3Config::from_json_string(j.dump(), "v5.json");
  EXPECT_DOUBLE_EQ(c.rope_theta, 5000.0);
  EXPECT_EQ(c.torch_dtype, "float32");
}

TEST(Qwen3ConfigJson, MissingRequiredKeyNamesFileAndKey) {
  for (const char* key : {"hidden_size", "intermediate_size", "num_hidden_layers", "num_attention_heads",
                          "num_key_value_heads", "vocab_size"}) {
    json j = qwen3_0_6b();
    j.erase(key);
    expect_error([&] { Qwen3Config::from_json_string(j.dump(), "/models/x/config.json"); },
                 {"/models/x/config.json", "missing required key", std::string("'") + key + "'"});
  }
}

TEST(Qwen3ConfigJson, WrongTypesNameKeyAndValue) {
  json j = qwen3_0_6b();
  j["hidden_size"] = "1024";
  expect_error([&] { Qwen3Config::from_json_string(j.dump(), "cfg.json"); },
               {"cfg.json", "'hidden_size'", "integer", "\"1024\""});
  j = qwen3_0_6b();
  j["num_hidden_layers"] = 2.5;
  expect_error([&] { Qwen3Config::from_json_string(j.dump(), "cfg.json"); }, {"'num_hidden_layers'", "2.5"});
  j = qwen3_0_6b();
  j["tie_word_embeddings"] = "yes";
  expect_error([&] { Qwen3Config::from_json_string(j.dump(), "cfg.json"); },
               {"cfg.json", "'tie_word_embeddings'", "\"yes\""});
  j = qwen3_0_6b();
  j["rope_theta"] = json::array({1});
  expect_error([&] { Qwen3Config::from_json_string(j.dump(), "cfg.json"); }, {"'rope_theta'", "[1]"});
  j = qwen3_0_6b();
  j["eos_token_id"] = {1, "two"};
  expect_error([&] { Qwen3Config::from_json_string(j.dump(), "cfg.json"); }, {"'eos_token_id'", "\"two\""});
  // 1024.0 is an integer written as a float: accepted.
  j = qwen3_0_6b();
  j["hidden_size"] = 1024.0;
  EXPECT_EQ(Qwen3Config::from_json_string(j.dump(), "cfg.json").hidden_size, 1024);
}

TEST(Qwen3ConfigJson, RejectsInvalidJsonAndUnsupportedArchitectures) {
  expect_error([] { Qwen3Config::from_json_string("{\"hidden_size\": ", "bad.json"); }, {"bad.json", "invalid JSON"});
  json j = qwen3_0_6b();
  j["rope_scaling"] = {{"rope_type", "yarn"}, {"factor", 4.0}};
  expect_error([&] { Qwen3Config::from_json_string(j.dump(), "yarn.json"); }, {"yarn.json", "rope_scaling", "yarn"});
  j = qwen3_0_6b();
  j["model_type"] = "llama";
  expect_error([&] { Qwen3Config::from_json_string(j.dump(), "llama.json"); }, {"llama.json", "model_type"});
  j = qwen3_0_6b();
  j["attention_bias"] = true;
  expect_error([&] { Qwen3Config::from_json_string(j.dump(), "b.json"); }, {"b.json", "attention_bias"});
}

TEST(Qwen3ConfigJson, ValidateCatchesInconsistentValues) {
  json j = qwen3_0_6b();
  j["num_key_value_heads"] = 5;
  expect_error([&] { Qwen3Config::from_json_string(j.dump(), "kv.json"); }, {"kv.json", "multiple of num_key_value_heads"});
  j = qwen3_0_6b();
  j["vocab_size"] = 0;
  expect_error([&] { Qwen3Config::from_json_string(j.dump(), "v.json"); }, {"v.json", "'vocab_size'", "positive"});
  j = qwen3_0_6b();
  j["head_dim"] = 15;
  expect_error([&] { Qwen3Config::from_json_string(j.dump(), "h.json"); }, {"h.json", "head_dim", "even"});
  Qwen3Config c;
  c.rms_norm_eps = 0;
  expect_error([&] { c.validate("here"); }, {"here", "rms_norm_eps"});
}

TEST(Qwen3ConfigJson, ToJsonIsHfLoadableAndRoundTrips) {
  json src = qwen3_0_6b();
  src["tie_word_embeddings"] = false;
  src["eos_token_id"] = {151645, 151643};
  src["rope_theta"] = 12345.5;
  Qwen3Config c = Qwen3Config::from_json_string(src.dump(), "src.json");
  json out = json::parse(c.to_json_string());
  EXPECT_EQ(out["architectures"], json::array({"Qwen3ForCausalLM"}));
  EXPECT_EQ(out["model_type"], "qwen3");
  EXPECT_EQ(out["hidden_act"], "silu");
  EXPECT_EQ(out["attention_bias"], false);
  EXPECT_EQ(out["attention_dropout"], 0.0);
  EXPECT_EQ(out["use_cache"], true);
  EXPECT_EQ(out["use_sliding_window"], false);
  EXPECT_TRUE(out["rope_scaling"].is_null());
  EXPECT_EQ(out["rope_theta"], 12345.5);
  EXPECT_EQ(out["rope_parameters"]["rope_theta"], 12345.5);
  EXPECT_EQ(out["rope_parameters"]["rope_type"], "default");
  EXPECT_EQ(out["dtype"], out["torch_dtype"]);
  EXPECT_EQ(out["tie_word_embeddings"], false);
  EXPECT_EQ(out["eos_token_id"], json::array({151645, 151643}));
  EXPECT_EQ(out["head_dim"], 128);
  EXPECT_EQ(out["max_window_layers"], 28);

  Qwen3Config back = Qwen3Config::from_json_string(c.to_json_string(), "back.json");
  EXPECT_EQ(back.hidden_size, c.hidden_size);
  EXPECT_EQ(back.intermediate_size, c.intermediate_size);
  EXPECT_EQ(back.num_hidden_layers, c.num_hidden_layers);
  EXPECT_EQ(back.num_attention_heads, c.num_attention_heads);
  EXPECT_EQ(back.num_key_value_heads, c.num_key_value_heads);
  EXPECT_EQ(back.head_dim, c.head_dim);
  EXPECT_EQ(back.vocab_size, c.vocab_size);
  EXPECT_EQ(back.max_position_embeddings, c.max_position_embeddings);
  EXPECT_DOUBLE_EQ(back.rope_theta, 12345.5);
  EXPECT_DOUBLE_EQ(back.rms_norm_eps, c.rms_norm_eps);
  EXPECT_EQ(back.tie_word_embeddings, false);
  EXPECT_EQ(back.eos_token_ids, c.eos_token_ids);
  EXPECT_EQ(back.bos_token_id, c.bos_token_id);
}

TEST(Qwen3ConfigJson, FromFileNamesAMissingFile) {
  expect_error([] { Qwen3Config::from_json_file("/nonexistent/dir/config.json"); },
               {"/nonexistent/dir/config.json", "cannot open"});
}

}  // namespace
}  // namespace wm
