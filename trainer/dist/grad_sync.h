// Gradient synchronisation of one data-parallel optimizer step, over the flat gradient buffer.
//
// Micro-batches: each micro-batch's gradient is computed into zeroed gradients and added to an
// accumulation buffer in micro-batch order (exact_accumulation; otherwise the kernels accumulate
// in place). So the reduced gradient of W ranks x 1 micro-batch, summed by the communicator in
// rank order, is bit for bit the gradient of 1 rank x W micro-batches over the same rows (CPU).
//
// Plain DP (zero_stage 0): the buffer is cut into buckets of whole layers (last layer first, the
// final norm and an untied lm_head with the last layer's bucket, the embedding last). During the
// LAST micro-batch's backward, the model's per-layer callback starts a bucket's all-reduce as soon
// as its lowest layer is done, on a side stream (GPU) that waits for the backward with an event;
// the embedding bucket goes after the backward. On the CPU the same code runs synchronously.
//
// ZeRO-1 (zero_stage 1): after the backward, one reduce-scatter gives each rank the summed
// gradient of its shard (zero_shard); the optimizer updates only that shard and gather_params()
// all-gathers the updated weights.
#pragma once
#include <cstdint>
#include <vector>

#include "kernels/buffer.h"
#include "model/qwen3.h"
#include "trainer/dist/dist_context.h"
#include "trainer/dist/side_stream.h"
#include "trainer/optim/adamw.h"

namespace wm::dist {

struct FlatRange {
  int64_t begin = 0, end = 0;
  int64_t size() const { return end - begin; }
};

// The shard of `rank` in a flat buffer of `numel` elements: `world` equal parts of numel / world
// elements, the last rank also owning the remainder (so the reduce-scatter/all-gather part is even).
FlatRange zero_shard(int64_t numel, int rank, int world);
// The decay segments inside `range`, shifted to start at 0 (for an optimizer of that shard only).
std::vector<ParamSegment> shard_segments(const std::vector<ParamSegment>& segments, FlatRange range);

struct GradSyncOptions {
  int zero_stage = 0;
  int64_t micro_batches = 1;          // per rank and optimizer step
  int64_t bucket_bytes = 64 << 20;    // plain DP: a bucket holds whole layers up to about this size
  bool exact_accumulation = true;
};

class GradSync {
 public:
  GradSync(DistContext& dist, Qwen3Model& model, GradSyncOptions options);
  ~GradSync();  // removes the model callback
  GradSync(const GradSync&) = delete;
  GradSync& operator=(const GradSync&) = delete;

  // The range of the flat buffers this rank's optimizer updates (all of it without ZeRO).
  FlatRange shard() const { return shard_; }
  // Plain DP buckets in launch order: (range, layer whose callback launches it; -1: after the backward).
  std::vector<std::pair<FlatRange, int>> buckets() const;

  // Around micro-batch `index` (0-based) of a step: before its forward, after its backward. After
  // the last one, the gradients of shard() hold the sum over ranks and micro-batches.
  void begin_micro(int64_t index);
  void end_micro(int64_t index);
  // Global L2 norm of the reduced gradient; the same on every rank.
  double grad_norm();
  // ZeRO-1, after the optimizer updated its shard: every rank gets all the weights.
  void gather_params();
  // ZeRO-1 checkpoints: the full flat buffer `full` [N] from every rank's `part` [shard size].
  void gather_full(const Tensor& part, Tensor full);

 private:
  struct Bucket {
    FlatRange range;
    int trigger_layer = -1;  // launched when this layer's gradients are ready (-1: after backward)
    bool launched = false;
  };
  void layer_ready(int layer);
  void launch(Bucket& b);

  DistContext& dist_;
  Qwen3Model& model_;
  GradSyncOptions o_;
  Tensor grads_, params_;
  FlatRange shard_;
  std::vector<Bucket> buckets_;
  SideStream side_;
  std::unique_ptr<OwnedTensor> accum_;  // exact_accumulation with several micro-batches
  bool in_last_micro_ = false;
};

}  // namespace wm::dist
