// The training data loader: deterministic shuffling, packing (or padding) into rows of
// max_seq_len tokens, data-parallel sharding, and a resumable position.
//
// Epoch plan (identical on every rank; it depends only on the dataset, seed, epoch and options):
//   1. order: the dataset indices, shuffled by a Fisher-Yates driven by splitmix64(seed, epoch)
//      (or kept in file order with shuffle = false);
//   2. rows: examples taken in that order; an example longer than max_seq_len is truncated
//      (truncation side: right keeps its start, left keeps its end) or skipped, as overlong says,
//      and counted either way; in packed mode an example goes into the current row when it fits,
//      else starts the next row; in padded mode every example has a row of its own;
//   3. global steps: rows grouped by G = world * rows_per_rank; the last group is completed with
//      all-padding rows (no loss), so that no example is dropped and all ranks step equally.
// Sharding: in global step s, rank r takes global rows [s*G + r*B, s*G + (r+1)*B) with
// B = rows_per_rank. The union over ranks of step s is therefore exactly step s of a single rank
// with rows_per_rank = G, in the same row order (rank 0 first).
// Position: (epoch, step) of the next batch. state() after a step, saved with the checkpoint,
// and restore() on a new loader make the next batch the very one that would have come next.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "data/packed_batch.h"
#include "data/tokenized_dataset.h"

namespace wm {

enum class BatchMode { packed, padded };
enum class TruncationSide { right, left };
enum class OverlongPolicy { truncate, skip };

BatchMode parse_batch_mode(const std::string& s);
TruncationSide parse_truncation_side(const std::string& s);
OverlongPolicy parse_overlong_policy(const std::string& s);

struct LoaderOptions {
  int64_t max_seq_len = 2048;  // S
  int64_t rows_per_rank = 1;   // B, the micro-batch of one rank
  BatchMode mode = BatchMode::packed;
  TruncationSide truncation = TruncationSide::right;
  OverlongPolicy overlong = OverlongPolicy::truncate;
  bool shuffle = true;
  uint64_t seed = 0;
  int rank = 0;
  int world = 1;
  int32_t pad_id = 151643;  // Qwen3's <|endoftext|>
};

struct LoaderState {
  uint64_t seed = 0;
  int64_t epoch = 0;
  int64_t step = 0;  // next global step within the epoch
  int rank = 0;
  int world = 1;
  int64_t global_rows = 0;  // world * rows_per_rank: the plan depends on it
  int64_t max_seq_len = 0;
  std::string mode;
  int64_t dataset_size = 0;
};
void to_json(nlohmann::json& j, const LoaderState& s);
void from_json(const nlohmann::json& j, LoaderState& s);  // throws naming a missing key

struct LoaderEpochStats {
  int64_t examples = 0;
  int64_t overlong = 0;          // longer than max_seq_len
  int64_t truncated_tokens = 0;  // tokens cut from those (truncate policy)
  int64_t skipped_overlong = 0;  // examples left out (skip policy)
  int64_t rows = 0;              // rows holding data
  int64_t padding_rows = 0;      // all-padding rows completing the last step
  int64_t padding_tokens = 0;    // padding over all rows
};

class DataLoader {
 public:
  DataLoader(std::shared_ptr<const TokenizedDataset> data, LoaderOptions options);

  PackedBatch next();  // moves to the next epoch after its last step

  int64_t steps_per_epoch();
  const LoaderEpochStats& epoch_stats();  // of the current epoch's plan
  LoaderState state() const;
  // Throws std::invalid_argument when the state was saved with a different plan (sequence length,
  // global batch rows, mode or dataset size); rank and world may change if world*B stays the same.
  void restore(const LoaderState& state);

 private:
  struct Piece {
    int64_t example;
    int64_t begin, length;  // the kept token range of the example
  };
  void plan_epoch();
  void fill_row(PackedBatch& batch, int64_t row_in_batch, int64_t global_row) const;

  std::shared_ptr<const TokenizedDataset> data_;
  LoaderOptions o_;
  int64_t epoch_ = 0;
  int64_t step_ = 0;
  int64_t planned_epoch_ = -1;
  std::vector<std::vector<Piece>> rows_;  // global rows of the planned epoch
  int64_t steps_ = 0;
  LoaderEpochStats stats_;
};

}  // namespace wm
