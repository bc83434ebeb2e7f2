#include "trainer/dist/grad_sync.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>

#include <spdlog/spdlog.h>

#include "kernels/ops.h"

namespace wm::dist {

FlatRange zero_shard(int64_t numel, int rank, int world) {
  const int64_t part = numel / world;
  return {rank * part, rank == world - 1 ? numel : (rank + 1) * part};
}

std::vector<ParamSegment> shard_segments(const std::vector<ParamSegment>& segments, FlatRange range) {
  std::vector<ParamSegment> out;
  for (const auto& s : segments) {
    const int64_t b = std::max(s.offset, range.begin), e = std::min(s.offset + s.numel, range.end);
    if (b < e) out.push_back({b - range.begin, e - b, s.decay});
  }
  return out;
}

GradSync::GradSync(DistContext& dist, Qwen3Model& model, GradSyncOptions options)
    : dist_(dist), model_(model), o_(options), grads_(model.params().flat_grads()),
      params_(model.params().flat_params()), side_(dist.world() > 1 ? dist.device() : Device::CPU) {
  if (o_.zero_stage != 0 && o_.zero_stage != 1)
    throw std::invalid_argument("key 'train.zero_stage': " + std::to_string(o_.zero_stage) + " is not 0 or 1");
  if (o_.micro_batches < 1) throw std::invalid_argument("grad sync: micro_batches must be at least 1");
  const int64_t N = grads_.numel();
  shard_ = o_.zero_stage == 1 ? zero_shard(N, dist.rank(), dist.world()) : FlatRange{0, N};
  if (o_.exact_accumulation && o_.micro_batches > 1)
    accum_ = std::make_unique<OwnedTensor>(std::vector<int64_t>{N}, grads_.dtype, grads_.device);

  // Layer boundaries in the flat buffer: [embedding][layer 0]...[layer n-1][final norm, lm_head].
  const ParamStore& store = model.params();
  const int layers = static_cast<int>(model.config().num_hidden_layers);
  std::vector<int64_t> layer_begin(static_cast<size_t>(layers) + 1, N);
  for (size_t i = 0; i < store.specs().size(); ++i) {
    const int l = store.specs()[i].layer;
    if (l >= 0) layer_begin[l] = std::min(layer_begin[l], store.offset(i));
    else if (store.offset(i) > 0) layer_begin[layers] = std::min(layer_begin[layers], store.offset(i));
  }
  if (o_.zero_stage == 0) {
    const int64_t elem = static_cast<int64_t>(dtype_size(grads_.dtype));
    int64_t hi = N;
    for (int l = layers - 1; l >= 0; --l) {
      const int64_t lo = layer_begin[l];
      if ((hi - lo) * elem >= o_.bucket_bytes || l == 0) {
        buckets_.push_back({{lo, hi}, l});
        hi = lo;
      }
    }
    if (hi > 0) buckets_.push_back({{0, hi}, -1});  // the embedding (and a tied lm_head)
  }
  if (dist.world() > 1 && o_.zero_stage == 0)
    model_.set_layer_grads_ready([this](int layer) { layer_ready(layer); });
  if (dist.world() > 1)
    spdlog::info("data parallel: zero_stage {}, {} gradient bucket(s), {} micro-batch(es) per rank{}", o_.zero_stage,
                 buckets_.size(), o_.micro_batches, accum_ ? ", separate accumulation buffer" : "");
}

GradSync::~GradSync() { model_.set_layer_grads_ready(nullptr); }

std::vector<std::pair<FlatRange, int>> GradSync::buckets() const {
  std::vector<std::pair<FlatRange, int>> out;
  for (const auto& b : buckets_) out.emplace_back(b.range, b.trigger_layer);
  return out;
}

void GradSync::begin_micro(int64_t index) {
  in_last_micro_ = index == o_.micro_batches - 1;
  if (index == 0 || o_.exact_accumulation) ops::zero(grads_);
}

void GradSync::layer_ready(int layer) {
  if (!in_last_micro_) return;
  for (auto& b : buckets_)
    if (!b.launched && b.trigger_layer == layer) launch(b);
}

void GradSync::launch(Bucket& b) {
  Tensor g = grads_.slice(b.range.begin, b.range.end);
  if (accum_) ops::add(g, accum_->t().slice(b.range.begin, b.range.end));  // this micro-batch + the earlier ones
  b.launched = true;
  if (dist_.world() == 1) return;
  side_.wait_for_backend();
  dist_.comm().set_stream(side_.handle());
  dist_.comm().all_reduce_sum(g);
  dist_.comm().set_stream(nullptr);
}

void GradSync::end_micro(int64_t index) {
  if (index < o_.micro_batches - 1) {
    if (accum_) {
      if (index == 0) ops::copy(accum_->t(), grads_);
      else ops::add(accum_->t(), grads_);
    }
    return;
  }
  in_last_micro_ = false;
  if (o_.zero_stage == 0) {
    for (auto& b : buckets_)
      if (!b.launched) launch(b);
    for (auto& b : buckets_) b.launched = false;
    side_.backend_waits();
  } else {
    if (accum_) ops::add(grads_, accum_->t());
    if (dist_.world() > 1) {
      const int64_t N = grads_.numel(), even = N / dist_.world() * dist_.world();
      const FlatRange mine = zero_shard(N, dist_.rank(), dist_.world());
      Communicator& c = dist_.comm();
      c.reduce_scatter_sum(grads_.slice(mine.begin, mine.begin + even / dist_.world()), grads_.slice(0, even));
      if (even < N) c.all_reduce_sum(grads_.slice(even, N));  // the remainder, owned by the last rank
    }
  }
  dist_.comm().synchronize();  // bounded: a dead or hung peer becomes an error here
}

double GradSync::grad_norm() {
  if (o_.zero_stage == 0) return std::sqrt(ops::sum_squares(grads_));
  std::vector<double> partial{ops::sum_squares(grads_.slice(shard_.begin, shard_.end))};
  dist_.all_reduce(partial);
  return std::sqrt(partial[0]);
}

void GradSync::gather_params() {
  if (o_.zero_stage == 0 || dist_.world() == 1) return;
  gather_full(params_.slice(shard_.begin, shard_.end), params_);
}

void GradSync::gather_full(const Tensor& part, Tensor full) {
  const int world = dist_.world();
  if (world == 1) {
    if (part.data != full.data) ops::copy(full, part);
    return;
  }
  const int64_t N = full.numel(), even = N / world * world, each = even / world;
  if (part.numel() != zero_shard(N, dist_.rank(), world).size())
    throw std::invalid_argument("gather_full: the part " + part.describe() + " is not this rank's shard of " +
                                full.describe());
  Communicator& c = dist_.comm();
  // In place when `part` already lies at its spot in `full` (the weights).
  c.all_gather(full.slice(0, even), part.slice(0, each));
  if (even < N) {
    if (dist_.rank() == world - 1 && part.data != full.slice(even, N).data)
      ops::copy(full.slice(even, N), part.slice(each, part.numel()));
    c.broadcast(full.slice(even, N), world - 1);
  }
  c.synchronize();
}

}  // namespace wm::dist
