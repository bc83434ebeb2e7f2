#include "model/hf_checkpoint.h"

#include <stdlib.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <stdexcept>

#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "model/param_layout.h"
#include "model/safetensors.h"

namespace wm {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;

[[noreturn]] void fail(const std::string& origin, const std::string& what) {
  throw std::runtime_error(origin + ": " + what);
}

std::vector<int64_t> shape_of(const Tensor& t) { return {t.shape.begin(), t.shape.begin() + t.ndim}; }

const char* hf_dtype_name(DType dt) {
  switch (dt) {
    case DType::BF16: return "bfloat16";
    case DType::F32: return "float32";
    case DType::F16: return "float16";
    default: break;
  }
  throw std::invalid_argument(std::string("export: cannot store weights as ") + dtype_name(dt) +
                              " (use bf16, f16 or f32)");
}

// Files of a HF folder that travel with the weights when present in the source folder.
constexpr const char* kTokenizerFiles[] = {"tokenizer.json",          "tokenizer_config.json", "vocab.json",
                                           "merges.txt",              "special_tokens_map.json",
                                           "added_tokens.json",       "chat_template.jinja"};

// A freshly created temporary folder, deleted on destruction unless released.
class TempDir {
 public:
  explicit TempDir(const std::string& prefix) {
    std::string pattern = prefix + ".tmp-XXXXXX";
    if (!::mkdtemp(pattern.data())) fail(prefix, std::string("cannot create a temporary folder: ") + std::strerror(errno));
    path_ = pattern;
    // mkdtemp makes it private (0700); the finished folder should be readable like any other.
    fs::permissions(path_, fs::perms::group_read | fs::perms::group_exec | fs::perms::others_read |
                               fs::perms::others_exec, fs::perm_options::add);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  ~TempDir() {
    if (!released_) {
      std::error_code ec;
      fs::remove_all(path_, ec);
    }
  }
  const std::string& path() const { return path_; }
  void release() { released_ = true; }

 private:
  std::string path_;
  bool released_ = false;
};

void write_text(const fs::path& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
  out.close();
  if (!out) fail(path.string(), "write failed");
}

void copy_file_writable(const fs::path& from, const fs::path& to) {
  fs::copy_file(from, to, fs::copy_options::overwrite_existing);
  fs::permissions(to, fs::perms::owner_read | fs::perms::owner_write, fs::perm_options::add);
}

// Parameters in spec order, checked against the config: every spec present with its shape,
// nothing else.
NamedTensors ordered_params(const Qwen3Config& cfg, const NamedTensors& params, const std::string& out_dir) {
  std::map<std::string, const Tensor*> by_name;
  for (const auto& p : params) {
    if (!by_name.emplace(p.name, &p.tensor).second) fail(out_dir, "parameter '" + p.name + "' is given twice");
  }
  NamedTensors ordered;
  for (const auto& spec : qwen3_param_specs(cfg)) {
    auto it = by_name.find(spec.name);
    if (it == by_name.end()) fail(out_dir, "cannot export: parameter '" + spec.name + "' is missing");
    if (shape_of(*it->second) != spec.shape)
      fail(out_dir, "cannot export: parameter '" + spec.name + "' has shape " + shape_string(shape_of(*it->second)) +
                        " but the config expects " + shape_string(spec.shape));
    if (!is_floating(it->second->dtype))
      fail(out_dir, "cannot export: parameter '" + spec.name + "' is " + dtype_name(it->second->dtype));
    ordered.push_back({spec.name, *it->second});
    by_name.erase(it);
  }
  if (!by_name.empty())
    fail(out_dir, "cannot export: parameter '" + by_name.begin()->first + "' is not part of the Qwen3 layout" +
                      (cfg.tie_word_embeddings ? " (the config ties the embeddings)" : ""));
  return ordered;
}

// Moves the finished temporary folder to `out_dir` (the caller checked that replacing is allowed).
void move_into_place(TempDir& tmp, const fs::path& out_dir) {
  std::error_code ec;
  if (fs::exists(out_dir) && !fs::is_empty(out_dir)) {
    // Old folder aside, new one in, old one deleted: at no time is there a half-written out_dir.
    std::string aside = out_dir.string() + ".old-XXXXXX";
    if (!::mkdtemp(aside.data())) fail(out_dir.string(), std::string("cannot create a folder: ") + std::strerror(errno));
    fs::remove(aside);
    fs::rename(out_dir, aside);
    fs::rename(tmp.path(), out_dir);
    tmp.release();
    fs::remove_all(aside, ec);
    return;
  }
  if (fs::exists(out_dir)) fs::remove(out_dir);  // an empty folder
  fs::rename(tmp.path(), out_dir);
  tmp.release();
}

}  // namespace

void load_hf_weights(const std::string& dir, const Qwen3Config& cfg, const NamedTensors& destinations) {
  const SafetensorsSet weights = SafetensorsSet::open_folder(dir);
  const auto specs = qwen3_param_specs(cfg);
  std::set<std::string> wanted;
  for (const auto& dst : destinations) {
    wanted.insert(dst.name);
    std::vector<int64_t> expected = shape_of(dst.tensor);
    if (int i = find_param(specs, dst.name); i >= 0) {
      if (specs[i].shape != expected)
        throw std::invalid_argument("load_hf_weights: destination '" + dst.name + "' has shape " +
                                    shape_string(expected) + " but the config expects " +
                                    shape_string(specs[i].shape));
    }
    const SafetensorsFile* file = weights.file_of(dst.name);
    if (!file) fail(dir, "missing tensor '" + dst.name + "' in the weights of this folder (" + weights.description() + ")");
    const SafetensorsEntry& entry = file->at(dst.name);
    if (entry.shape != expected)
      fail(file->path(), "tensor '" + dst.name + "' has shape " + shape_string(entry.shape) + " in the file but the config expects " +
                             shape_string(expected));
    file->read_into(dst.name, dst.tensor);
  }
  for (const auto& name : weights.names()) {
    if (wanted.count(name)) continue;
    if (name == "lm_head.weight" && cfg.tie_word_embeddings)
      spdlog::debug("{}: ignoring lm_head.weight (the config ties it to the embeddings)", dir);
    else
      spdlog::debug("{}: ignoring tensor '{}' (not a parameter of the model)", dir, name);
  }
}

std::string default_generation_config(const Qwen3Config& cfg) {
  json j;
  j["bos_token_id"] = cfg.bos_token_id;
  if (cfg.eos_token_ids.size() > 1 && cfg.eos_token_ids.front() == cfg.eos_token_id)
    j["eos_token_id"] = cfg.eos_token_ids;
  else
    j["eos_token_id"] = cfg.eos_token_id;
  j["do_sample"] = true;
  j["temperature"] = 0.6;
  j["top_k"] = 20;
  j["top_p"] = 0.95;
  return j.dump(2) + "\n";
}

void export_hf_folder(const std::string& out_dir_arg, const Qwen3Config& cfg_in, const NamedTensors& params,
                      const HfExportOptions& options) {
  fs::path out_dir = fs::path(out_dir_arg).lexically_normal();
  if (out_dir.has_filename() == false) out_dir = out_dir.parent_path();  // "out/" -> "out"
  if (out_dir.empty()) throw std::invalid_argument("export: empty output folder");
  cfg_in.validate("export config");
  Qwen3Config cfg = cfg_in;
  cfg.torch_dtype = hf_dtype_name(options.store_dtype);
  const NamedTensors ordered = ordered_params(cfg, params, out_dir.string());

  if (fs::exists(out_dir)) {
    if (!fs::is_directory(out_dir)) fail(out_dir.string(), "exists and is not a folder");
    if (!fs::is_empty(out_dir) && !options.overwrite)
      fail(out_dir.string(), "exists and is not empty (set the overwrite option, e.g. --overwrite, to replace it)");
  }
  if (out_dir.has_parent_path()) fs::create_directories(out_dir.parent_path());

  TempDir tmp(out_dir.string());
  const fs::path staging = tmp.path();
  write_text(staging / "config.json", cfg.to_json_string());

  bool have_generation_config = false;
  if (!options.tokenizer_src_dir.empty()) {
    const fs::path src = options.tokenizer_src_dir;
    if (!fs::is_directory(src)) fail(options.tokenizer_src_dir, "tokenizer folder does not exist");
    for (const char* name : kTokenizerFiles)
      if (fs::exists(src / name)) copy_file_writable(src / name, staging / name);
    if (fs::exists(src / "generation_config.json")) {
      copy_file_writable(src / "generation_config.json", staging / "generation_config.json");
      have_generation_config = true;
    }
  }
  if (!have_generation_config) write_text(staging / "generation_config.json", default_generation_config(cfg));

  write_safetensors_sharded(staging.string(), "model", ordered, options.store_dtype, options.max_shard_bytes,
                            {{"format", "pt"}});
  move_into_place(tmp, out_dir);
  spdlog::info("exported {} parameters ({}) to {}", ordered.size(), cfg.torch_dtype, out_dir.string());
}

}  // namespace wm
