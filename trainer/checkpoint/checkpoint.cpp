#include "trainer/checkpoint/checkpoint.h"

#include <algorithm>
#include <cstring>
#include <stdexcept>

#include <fmt/format.h>

#include "kernels/buffer.h"
#include "kernels/ops.h"

namespace wm {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

constexpr const char* kTensorFiles[] = {"master.bin", "adam_m.bin", "adam_v.bin"};

// The bytes of an F32 tensor, staged through host memory when it lives on a device.
class HostBytes {
 public:
  HostBytes(const Tensor& t, const char* what) {
    if (t.dtype != DType::F32) throw std::invalid_argument(std::string("checkpoint: ") + what + " must be F32");
    const Tensor* src = &t;
    if (t.device != Device::CPU) {
      staging_ = OwnedTensor({t.numel()}, DType::F32, Device::CPU);
      ops::copy(staging_.t(), t.view({-1}));
      src = &staging_.t();
    }
    bytes_ = std::string_view(static_cast<const char*>(src->data), src->nbytes());
  }
  std::string_view bytes() const { return bytes_; }

 private:
  OwnedTensor staging_;
  std::string_view bytes_;
};

std::optional<int64_t> step_of(const fs::path& dir) {
  const std::string name = dir.filename().string();
  if (name.rfind("step_", 0) != 0 || name.size() == 5) return std::nullopt;
  int64_t step = 0;
  for (char c : name.substr(5)) {
    if (c < '0' || c > '9') return std::nullopt;
    step = step * 10 + (c - '0');
  }
  return step;
}

void copy_into(const std::vector<float>& src, const Tensor& dst, const fs::path& dir, const char* what) {
  if (dst.dtype != DType::F32 || dst.numel() != static_cast<int64_t>(src.size()))
    throw std::runtime_error(fmt::format("checkpoint {}: {} holds {} floats but the model needs {} ({})",
                                         dir.string(), what, src.size(), dst.numel(), dst.describe()));
  Tensor host(const_cast<float*>(src.data()), {dst.numel()}, DType::F32, Device::CPU);
  ops::copy(dst.view({-1}), host);
}

}  // namespace

uint64_t fnv1a64(std::string_view bytes) {
  uint64_t h = 1469598103934665603ull;
  for (unsigned char c : bytes) {
    h ^= c;
    h *= 1099511628211ull;
  }
  return h;
}

json TrainerState::to_json() const {
  return {{"step", step},
          {"tokens_seen", tokens_seen},
          {"skipped_steps", skipped_steps},
          {"rng_state", rng_state},
          {"loader_state", loader_state}};
}

TrainerState TrainerState::from_json(const json& j, const std::string& origin) {
  TrainerState s;
  try {
    s.step = j.at("step").get<int64_t>();
    s.tokens_seen = j.at("tokens_seen").get<int64_t>();
    s.skipped_steps = j.value("skipped_steps", int64_t{0});
    s.rng_state = j.at("rng_state").get<std::string>();
    s.loader_state = j.at("loader_state");
  } catch (const json::exception& e) {
    throw std::runtime_error(origin + ": bad trainer state: " + e.what());
  }
  return s;
}

fs::path checkpoint_root(const fs::path& output_dir) { return output_dir / "checkpoints"; }

fs::path checkpoint_dir(const fs::path& output_dir, int64_t step) {
  return checkpoint_root(output_dir) / fmt::format("step_{:08d}", step);
}

fs::path save_checkpoint(const fs::path& output_dir, const CheckpointData& data, const SaveOptions& options) {
  const fs::path final_dir = checkpoint_dir(output_dir, data.state.step);
  AtomicDirWriter writer(final_dir, options.after_file);
  json manifest = {{"format", "wemask-checkpoint-1"}, {"step", data.state.step}, {"files", json::object()}};
  auto put = [&](const std::string& name, std::string_view bytes) {
    writer.write(name, bytes);
    manifest["files"][name] = {{"bytes", bytes.size()}, {"fnv1a64", fmt::format("{:016x}", fnv1a64(bytes))}};
  };
  put("state.json", data.state.to_json().dump(2));
  put("config.yaml", data.config_yaml);
  put("model_config.json", data.model_config_json);
  put(kTensorFiles[0], HostBytes(data.master, "master").bytes());
  put(kTensorFiles[1], HostBytes(data.adam_m, "adam_m").bytes());
  put(kTensorFiles[2], HostBytes(data.adam_v, "adam_v").bytes());
  writer.commit(manifest.dump(2));
  return final_dir;
}

std::vector<std::pair<int64_t, fs::path>> list_checkpoints(const fs::path& output_dir) {
  std::vector<std::pair<int64_t, fs::path>> out;
  const fs::path root = checkpoint_root(output_dir);
  std::error_code ec;
  if (!fs::is_directory(root, ec)) return out;
  for (const auto& e : fs::directory_iterator(root)) {
    if (!e.is_directory()) continue;
    auto step = step_of(e.path());
    if (step && is_complete_dir(e.path())) out.emplace_back(*step, e.path());
  }
  std::sort(out.begin(), out.end());
  return out;
}

std::optional<fs::path> latest_checkpoint(const fs::path& output_dir) {
  auto all = list_checkpoints(output_dir);
  if (all.empty()) return std::nullopt;
  return all.back().second;
}

void prune_checkpoints(const fs::path& output_dir, int64_t keep_last) {
  remove_stale_tmp_dirs(checkpoint_root(output_dir));
  auto all = list_checkpoints(output_dir);
  const int64_t excess = static_cast<int64_t>(all.size()) - std::max<int64_t>(keep_last, 1);
  for (int64_t i = 0; i < excess; ++i) {
    // Remove the marker first: a kill half-way through leaves an incomplete folder that resume skips.
    fs::remove(all[i].second / kCompleteMarker);
    fs::remove_all(all[i].second);
  }
}

LoadedCheckpoint::LoadedCheckpoint(const fs::path& dir) : dir_(dir) {
  if (!is_complete_dir(dir))
    throw std::runtime_error("checkpoint '" + dir.string() + "' is not complete (no COMPLETE marker)");
  json manifest;
  try {
    manifest = json::parse(read_file(dir / kCompleteMarker));
  } catch (const json::exception& e) {
    throw std::runtime_error("checkpoint '" + dir.string() + "': bad manifest: " + e.what());
  }
  auto verified = [&](const std::string& name) {
    std::string bytes = read_file(dir / name);
    if (!manifest.contains("files") || !manifest["files"].contains(name))
      throw std::runtime_error("checkpoint '" + dir.string() + "': manifest does not list " + name);
    const auto& m = manifest["files"][name];
    if (m.at("bytes").get<size_t>() != bytes.size() ||
        m.at("fnv1a64").get<std::string>() != fmt::format("{:016x}", fnv1a64(bytes)))
      throw std::runtime_error("checkpoint '" + (dir / name).string() + "' is corrupt (size or hash mismatch)");
    return bytes;
  };
  state_ = TrainerState::from_json(json::parse(verified("state.json")), (dir / "state.json").string());
  config_yaml_ = verified("config.yaml");
  model_config_json_ = verified("model_config.json");
  auto floats = [&](const char* name) {
    std::string bytes = verified(name);
    if (bytes.size() % sizeof(float) != 0)
      throw std::runtime_error("checkpoint '" + (dir / name).string() + "' size is not a multiple of 4");
    std::vector<float> out(bytes.size() / sizeof(float));
    std::memcpy(out.data(), bytes.data(), bytes.size());
    return out;
  };
  master_ = floats(kTensorFiles[0]);
  adam_m_ = floats(kTensorFiles[1]);
  adam_v_ = floats(kTensorFiles[2]);
  if (adam_m_.size() != master_.size() || adam_v_.size() != master_.size())
    throw std::runtime_error("checkpoint '" + dir.string() + "': master/m/v sizes differ");
}

void LoadedCheckpoint::copy_master_to(const Tensor& dst) const { copy_into(master_, dst, dir_, "master.bin"); }
void LoadedCheckpoint::copy_adam_m_to(const Tensor& dst) const { copy_into(adam_m_, dst, dir_, "adam_m.bin"); }
void LoadedCheckpoint::copy_adam_v_to(const Tensor& dst) const { copy_into(adam_v_, dst, dir_, "adam_v.bin"); }

}  // namespace wm
