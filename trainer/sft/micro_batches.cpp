#include "trainer/sft/micro_batches.h"

#include <stdexcept>
#include <string>

namespace wm {

HostBatch micro_batch(const PackedBatch& g, int64_t row_begin, int64_t row_end) {
  if (row_begin < 0 || row_end > g.rows || row_begin >= row_end)
    throw std::invalid_argument("micro_batch: rows [" + std::to_string(row_begin) + ", " +
                                std::to_string(row_end) + ") outside a batch of " + std::to_string(g.rows));
  const int64_t S = g.seq, begin = row_begin * S, end = row_end * S;
  const float weight = g.loss_tokens > 0 ? 1.0f / static_cast<float>(g.loss_tokens) : 0.0f;
  HostBatch b;
  b.rows = row_end - row_begin;
  b.seq = S;
  b.tokens.assign(g.tokens.begin() + begin, g.tokens.begin() + end);
  b.targets.assign(g.targets.begin() + begin, g.targets.begin() + end);
  b.positions.assign(g.positions.begin() + begin, g.positions.begin() + end);
  b.is_padding.assign(g.is_padding.begin() + begin, g.is_padding.begin() + end);
  b.doc_start.resize(static_cast<size_t>(end - begin));
  b.loss_weight.resize(static_cast<size_t>(end - begin));
  for (int64_t t = begin; t < end; ++t) {
    b.doc_start[t - begin] = static_cast<int32_t>(g.doc_start[t] - begin);  // flat index within the micro-batch
    b.loss_weight[t - begin] = g.targets[t] == kIgnoreIndex ? 0.0f : weight;
  }
  return b;
}

std::vector<HostBatch> split_micro_batches(const PackedBatch& g, int64_t rows_per_micro) {
  if (rows_per_micro <= 0 || g.rows % rows_per_micro != 0)
    throw std::invalid_argument("split_micro_batches: " + std::to_string(g.rows) + " rows do not split into " +
                                "micro-batches of " + std::to_string(rows_per_micro));
  std::vector<HostBatch> out;
  for (int64_t r = 0; r < g.rows; r += rows_per_micro) out.push_back(micro_batch(g, r, r + rows_per_micro));
  return out;
}

int64_t non_padding_tokens(const PackedBatch& b) {
  int64_t n = 0;
  for (auto p : b.is_padding) n += p == 0;
  return n;
}

}  // namespace wm
