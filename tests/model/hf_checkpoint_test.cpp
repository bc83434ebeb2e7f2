#include "model/hf_checkpoint.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <cstring>
#include <filesystem>

#include <nlohmann/json.hpp>

#include "kernels/buffer.h"
#include "model/param_layout.h"
#include "model/safetensors.h"
#include "tests/model/io_test_util.h"

namespace wm {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;
using testio::expect_error;
using testio::ScratchDir;

Qwen3Config tiny_config(bool tied) {
  Qwen3Config c;
  c.vocab_size = 10;
  c.hidden_size = 8;
  c.intermediate_size = 12;
  c.num_hidden_layers = 2;
  c.num_attention_heads = 2;
  c.num_key_value_heads = 1;
  c.head_dim = 4;
  c.tie_word_embeddings = tied;
  c.bos_token_id = 1;
  c.eos_token_id = 2;
  c.eos_token_ids = {2, 3};
  return c;
}

// F32 host storage for every parameter, filled with distinct pseudo-random values.
struct Params {
  std::vector<OwnedTensor> storage;
  NamedTensors views;
};

Params make_params(const Qwen3Config& cfg, uint32_t seed, bool fill) {
  Params p;
  uint32_t state = seed * 2654435761u + 1;
  for (const auto& spec : qwen3_param_specs(cfg)) {
    p.storage.emplace_back(std::span<const int64_t>(spec.shape), DType::F32);
    for (float& v : p.storage.back().span<float>()) {
      state = state * 1664525u + 1013904223u;
      v = fill ? static_cast<float>(static_cast<int32_t>(state >> 8) % 100000) / 31337.0f : 0.0f;
    }
    p.views.push_back({spec.name, p.storage.back().t()});
  }
  return p;
}

float bf16_rounded(float v) { return bf16_to_float(float_to_bf16(v)); }

void expect_equal_params(const Params& got, const Params& want, bool via_bf16) {
  ASSERT_EQ(got.views.size(), want.views.size());
  for (size_t i = 0; i < got.views.size(); ++i) {
    auto g = got.views[i].tensor.span<float>();
    auto w = want.views[i].tensor.span<float>();
    ASSERT_EQ(g.size(), w.size());
    size_t mismatches = 0;
    for (size_t k = 0; k < g.size(); ++k) mismatches += g[k] != (via_bf16 ? bf16_rounded(w[k]) : w[k]);
    EXPECT_EQ(mismatches, 0u) << got.views[i].name;
  }
}

TEST(HfCheckpoint, ExportThenLoadRoundTripsF32) {
  for (bool tied : {true, false}) {
    ScratchDir dir;
    const Qwen3Config cfg = tiny_config(tied);
    Params src = make_params(cfg, 1, true);
    const std::string out = dir.file("exported");
    export_hf_folder(out, cfg, src.views, {.store_dtype = DType::F32});

    EXPECT_TRUE(fs::exists(out + "/config.json"));
    EXPECT_TRUE(fs::exists(out + "/generation_config.json"));
    EXPECT_TRUE(fs::exists(out + "/model.safetensors"));
    for (const auto& e : fs::directory_iterator(dir.path()))  // nothing but the finished folder
      EXPECT_EQ(e.path().filename(), "exported");
    EXPECT_NE(fs::status(out).permissions() & fs::perms::others_read, fs::perms::none);

    Qwen3Config back = Qwen3Config::from_json_file(out + "/config.json");
    EXPECT_EQ(back.tie_word_embeddings, tied);
    EXPECT_EQ(back.torch_dtype, "float32");
    EXPECT_EQ(back.hidden_size, cfg.hidden_size);
    EXPECT_EQ(back.eos_token_ids, cfg.eos_token_ids);

    SafetensorsFile weights(out + "/model.safetensors");
    EXPECT_EQ(weights.metadata().at("format"), "pt");  // transformers refuses files without it
    EXPECT_EQ(weights.find("lm_head.weight") != nullptr, !tied);
    EXPECT_EQ(weights.entries().size(), qwen3_param_specs(cfg).size());

    Params loaded = make_params(back, 2, false);
    load_hf_weights(out, back, loaded.views);
    expect_equal_params(loaded, src, false);

    json gen = json::parse(testio::read_file(out + "/generation_config.json"));
    EXPECT_EQ(gen["bos_token_id"], 1);
    EXPECT_EQ(gen["eos_token_id"], json::array({2, 3}));
  }
}

TEST(HfCheckpoint, Bf16ExportRoundsEachWeight) {
  ScratchDir dir;
  const Qwen3Config cfg = tiny_config(false);
  Params src = make_params(cfg, 3, true);
  const std::string out = dir.file("bf16");
  export_hf_folder(out, cfg, src.views);  // bf16 by default
  SafetensorsFile weights(out + "/model.safetensors");
  EXPECT_EQ(weights.at("model.embed_tokens.weight").dtype, DType::BF16);
  EXPECT_EQ(Qwen3Config::from_json_file(out + "/config.json").torch_dtype, "bfloat16");
  Params loaded = make_params(cfg, 4, false);
  load_hf_weights(out, cfg, loaded.views);
  expect_equal_params(loaded, src, true);
}

TEST(HfCheckpoint, ShardedExportLoads) {
  ScratchDir dir;
  const Qwen3Config cfg = tiny_config(false);
  Params src = make_params(cfg, 5, true);
  const std::string out = dir.file("sharded");
  export_hf_folder(out, cfg, src.views, {.store_dtype = DType::F32, .max_shard_bytes = 1024});
  EXPECT_TRUE(fs::exists(out + "/model.safetensors.index.json"));
  EXPECT_FALSE(fs::exists(out + "/model.safetensors"));
  EXPECT_GT(SafetensorsSet::open_folder(out).files().size(), 2u);
  Params loaded = make_params(cfg, 6, false);
  load_hf_weights(out, cfg, loaded.views);
  expect_equal_params(loaded, src, false);
}

TEST(HfCheckpoint, TiedConfigIgnoresLmHeadInTheFile) {
  ScratchDir dir;
  const Qwen3Config untied = tiny_config(false);
  Params src = make_params(untied, 7, true);
  const std::string out = dir.file("untied");
  export_hf_folder(out, untied, src.views, {.store_dtype = DType::F32});
  // Reading the same files as a tied model: lm_head.weight is present but ignored.
  const Qwen3Config tied = tiny_config(true);
  Params loaded = make_params(tied, 8, false);
  load_hf_weights(out, tied, loaded.views);
  EXPECT_EQ(loaded.views.back().name, "model.norm.weight");
  auto emb = loaded.views.front().tensor.span<float>();
  auto want = src.views.front().tensor.span<float>();
  EXPECT_TRUE(std::equal(emb.begin(), emb.end(), want.begin()));
}

TEST(HfCheckpoint, MissingTensorNamesTensorAndFolder) {
  ScratchDir dir;
  const Qwen3Config cfg = tiny_config(false);
  Params src = make_params(cfg, 9, true);
  NamedTensors without;
  for (const auto& p : src.views)
    if (p.name != "model.layers.1.mlp.up_proj.weight") without.push_back(p);
  write_safetensors(dir.file("model.safetensors"), without, DType::F32);
  Params loaded = make_params(cfg, 10, false);
  expect_error([&] { load_hf_weights(dir.path().string(), cfg, loaded.views); },
               {dir.path().string(), "missing tensor 'model.layers.1.mlp.up_proj.weight'"});
  // Untied config reading a tied checkpoint: lm_head.weight is missing.
  const Qwen3Config tied = tiny_config(true);
  Params tied_src = make_params(tied, 11, true);
  ScratchDir dir2;
  write_safetensors(dir2.file("model.safetensors"), tied_src.views, DType::F32);
  expect_error([&] { load_hf_weights(dir2.path().string(), cfg, loaded.views); }, {"missing tensor 'lm_head.weight'"});
}

TEST(HfCheckpoint, ShapeDisagreeingWithConfigNamesBothShapes) {
  ScratchDir dir;
  Qwen3Config bigger = tiny_config(true);
  bigger.intermediate_size = 16;
  Params src = make_params(bigger, 12, true);
  const std::string file = dir.file("model.safetensors");
  write_safetensors(file, src.views, DType::F32);
  const Qwen3Config cfg = tiny_config(true);
  Params loaded = make_params(cfg, 13, false);
  expect_error([&] { load_hf_weights(dir.path().string(), cfg, loaded.views); },
               {file, "'model.layers.0.mlp.gate_proj.weight'", "[16, 8]", "[12, 8]"});
}

TEST(HfCheckpoint, CopiesTokenizerAndGenerationFiles) {
  ScratchDir dir;
  const fs::path tok = dir.path() / "tok";
  fs::create_directories(tok);
  testio::write_file((tok / "tokenizer.json").string(), "{\"model\": {}}");
  testio::write_file((tok / "tokenizer_config.json").string(), "{\"eos_token\": \"<|im_end|>\"}");
  testio::write_file((tok / "generation_config.json").string(), "{\"do_sample\": false, \"eos_token_id\": 2}");
  const Qwen3Config cfg = tiny_config(true);
  Params src = make_params(cfg, 14, true);
  const std::string out = dir.file("out");
  export_hf_folder(out, cfg, src.views, {.tokenizer_src_dir = tok.string()});
  EXPECT_EQ(testio::read_file(out + "/tokenizer.json"), "{\"model\": {}}");
  EXPECT_EQ(testio::read_file(out + "/tokenizer_config.json"), "{\"eos_token\": \"<|im_end|>\"}");
  EXPECT_EQ(testio::read_file(out + "/generation_config.json"), "{\"do_sample\": false, \"eos_token_id\": 2}");
  EXPECT_FALSE(fs::exists(out + "/vocab.json"));
}

TEST(HfCheckpoint, ExportRefusesToClobberAndLeavesNothingOnFailure) {
  ScratchDir dir;
  const Qwen3Config cfg = tiny_config(true);
  Params src = make_params(cfg, 15, true);
  const std::string out = dir.file("out");
  fs::create_directories(out);
  testio::write_file(out + "/keep.txt", "precious");
  expect_error([&] { export_hf_folder(out, cfg, src.views); }, {out, "not empty"});
  EXPECT_TRUE(fs::exists(out + "/keep.txt"));

  export_hf_folder(out, cfg, src.views, {.overwrite = true});
  EXPECT_FALSE(fs::exists(out + "/keep.txt"));
  EXPECT_TRUE(fs::exists(out + "/model.safetensors"));

  // A parameter with the wrong shape: an error and no trace of a new folder.
  Qwen3Config other = cfg;
  other.vocab_size = 11;
  const std::string out2 = dir.file("out2");
  expect_error([&] { export_hf_folder(out2, other, src.views); }, {"model.embed_tokens.weight", "[10, 8]", "[11, 8]"});
  NamedTensors missing(src.views.begin() + 1, src.views.end());
  expect_error([&] { export_hf_folder(out2, cfg, missing); }, {"'model.embed_tokens.weight' is missing"});
  size_t entries = 0;
  for (const auto& e : fs::directory_iterator(dir.path())) entries += e.path().filename() != "out";
  EXPECT_EQ(entries, 0u);
}

TEST(HfCheckpoint, ExportCommandReExportsAFolder) {
  ScratchDir dir;
  const Qwen3Config cfg = tiny_config(false);
  Params src = make_params(cfg, 16, true);
  const std::string in = dir.file("in"), out = dir.file("out");
  export_hf_folder(in, cfg, src.views, {.store_dtype = DType::F32, .max_shard_bytes = 2048});
  const std::string cmd = std::string(WEMASK_BINARY) + " export --model " + in + " --output " + out +
                          " --dtype f32 --max-shard-mb 1 > " + dir.file("log.txt") + " 2>&1";
  ASSERT_EQ(std::system(cmd.c_str()), 0) << testio::read_file(dir.file("log.txt"));
  EXPECT_TRUE(fs::exists(out + "/model.safetensors"));  // 1 MiB shards: one file
  Params loaded = make_params(cfg, 17, false);
  load_hf_weights(out, Qwen3Config::from_json_file(out + "/config.json"), loaded.views);
  expect_equal_params(loaded, src, false);

  const std::string bad = std::string(WEMASK_BINARY) + " export --model " + dir.file("nowhere") + " --output " +
                          dir.file("x") + " > " + dir.file("log2.txt") + " 2>&1";
  EXPECT_NE(std::system(bad.c_str()), 0);
  EXPECT_NE(testio::read_file(dir.file("log2.txt")).find("nowhere/config.json"), std::string::npos);
  const std::string bad_dtype = std::string(WEMASK_BINARY) + " export --model " + in + " --output " +
                                dir.file("y") + " --dtype int8 > " + dir.file("log3.txt") + " 2>&1";
  EXPECT_NE(std::system(bad_dtype.c_str()), 0);
  EXPECT_NE(testio::read_file(dir.file("log3.txt")).find("--dtype"), std::string::npos);
  EXPECT_FALSE(fs::exists(dir.file("y")));
}

}  // namespace
}  // namespace wm

namespace wm {
namespace {

// The committed HF fixtures were written by transformers' save_pretrained (5.x config keys:
// "dtype", "rope_parameters"). Every parameter must load with the exact bytes of the file, and
// an export of them must load back identically.
TEST(HfCheckpoint, LoadsAndReExportsTransformersFixtures) {
  for (const char* name : {"qwen3_tiny_a", "qwen3_tiny_b"}) {
    const std::string src = std::string(WEMASK_SOURCE_DIR) + "/tests/fixtures/" + name;
    if (!fs::exists(src + "/model.safetensors")) GTEST_SKIP() << "fixture " << src << " not present";
    const Qwen3Config cfg = Qwen3Config::from_json_file(src + "/config.json");
    Params loaded = make_params(cfg, 20, false);
    load_hf_weights(src, cfg, loaded.views);
    SafetensorsFile file(src + "/model.safetensors");
    for (const auto& p : loaded.views) {
      std::vector<char> raw = file.read_bytes(file.at(p.name));
      ASSERT_EQ(file.at(p.name).dtype, DType::F32) << p.name;
      EXPECT_EQ(std::memcmp(raw.data(), p.tensor.data, raw.size()), 0) << name << " " << p.name;
    }
    ScratchDir dir;
    export_hf_folder(dir.file("out"), cfg, loaded.views, {.store_dtype = DType::F32, .tokenizer_src_dir = src});
    const Qwen3Config back = Qwen3Config::from_json_file(dir.file("out") + "/config.json");
    EXPECT_EQ(back.tie_word_embeddings, cfg.tie_word_embeddings);
    EXPECT_DOUBLE_EQ(back.rope_theta, cfg.rope_theta);
    EXPECT_EQ(back.head_dim, cfg.head_dim);
    Params again = make_params(back, 21, false);
    load_hf_weights(dir.file("out"), back, again.views);
    expect_equal_params(again, loaded, false);
    // the source's generation_config.json travels with the export
    EXPECT_EQ(testio::read_file(dir.file("out") + "/generation_config.json"),
              testio::read_file(src + "/generation_config.json"));
  }
}

}  // namespace
}  // namespace wm
