// Training checkpoints: one folder per step under <output_dir>/checkpoints/step_<N>, holding
//   master.bin, adam_m.bin, adam_v.bin  fp32 flat buffers (parameter-store layout)
//   state.json                          step, scheduler step, tokens seen, RNG, data-loader state
//   config.yaml                         the resolved training config
//   model_config.json                   the HF config.json of the model
//   COMPLETE                            manifest (sizes + FNV-1a hashes of every file), written last
// Folders are written atomically (see atomic_dir.h): resume never sees a partial checkpoint.
#pragma once
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "kernels/tensor.h"
#include "trainer/checkpoint/atomic_dir.h"

namespace wm {

struct TrainerState {
  int64_t step = 0;            // optimizer steps completed (= scheduler step)
  int64_t tokens_seen = 0;     // non-padding tokens consumed
  int64_t skipped_steps = 0;   // steps skipped for NaN/Inf (train.on_nonfinite: skip)
  std::string rng_state;       // std::mt19937_64 text state
  nlohmann::json loader_state; // the data loader's resumable position
  nlohmann::json to_json() const;
  static TrainerState from_json(const nlohmann::json& j, const std::string& origin);
};

struct CheckpointData {
  Tensor master, adam_m, adam_v;  // F32 flat buffers, any device
  TrainerState state;
  std::string config_yaml;
  std::string model_config_json;
};

struct SaveOptions {
  AtomicDirWriter::FileHook after_file;  // test hook (e.g. crash between files)
};

std::filesystem::path checkpoint_root(const std::filesystem::path& output_dir);  // <out>/checkpoints
std::filesystem::path checkpoint_dir(const std::filesystem::path& output_dir, int64_t step);

// Writes the checkpoint of `data.state.step`; returns its folder.
std::filesystem::path save_checkpoint(const std::filesystem::path& output_dir, const CheckpointData& data,
                                      const SaveOptions& options = {});

// Complete checkpoints under <out>/checkpoints, oldest first, as (step, folder).
std::vector<std::pair<int64_t, std::filesystem::path>> list_checkpoints(const std::filesystem::path& output_dir);
// The newest complete checkpoint, if any ("resume: auto").
std::optional<std::filesystem::path> latest_checkpoint(const std::filesystem::path& output_dir);
// Deletes all but the newest `keep_last` complete checkpoints, and stale temporary folders.
void prune_checkpoints(const std::filesystem::path& output_dir, int64_t keep_last);

class LoadedCheckpoint {
 public:
  // Reads and verifies (sizes and hashes from the manifest) a checkpoint folder; throws naming
  // the folder and the file on any problem.
  explicit LoadedCheckpoint(const std::filesystem::path& dir);

  const std::filesystem::path& dir() const { return dir_; }
  const TrainerState& state() const { return state_; }
  const std::string& config_yaml() const { return config_yaml_; }
  const std::string& model_config_json() const { return model_config_json_; }
  int64_t numel() const { return static_cast<int64_t>(master_.size()); }
  // Copies a stored buffer into `dst` (F32, any device, same numel); throws on a size mismatch.
  void copy_master_to(const Tensor& dst) const;
  void copy_adam_m_to(const Tensor& dst) const;
  void copy_adam_v_to(const Tensor& dst) const;
  const std::vector<float>& master() const { return master_; }

 private:
  std::filesystem::path dir_;
  TrainerState state_;
  std::string config_yaml_, model_config_json_;
  std::vector<float> master_, adam_m_, adam_v_;
};

uint64_t fnv1a64(std::string_view bytes);

}  // namespace wm
