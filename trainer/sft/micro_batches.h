// Splitting the loader's global batch (all rows of one optimizer step) into micro-batches, with
// loss weights 1 / (loss tokens of the WHOLE global batch): the summed micro-batch losses are the
// mean token loss of the step, and the accumulated gradient is its gradient (as TRL/verl do),
// not a mean of per-micro-batch means.
#pragma once
#include <cstdint>
#include <vector>

#include "data/packed_batch.h"
#include "model/batch.h"

namespace wm {

// Rows [row_begin, row_end) of `global` as a HostBatch; every loss token gets weight
// 1 / global.loss_tokens (0 when the global batch has no loss token).
HostBatch micro_batch(const PackedBatch& global, int64_t row_begin, int64_t row_end);
std::vector<HostBatch> split_micro_batches(const PackedBatch& global, int64_t rows_per_micro);

int64_t non_padding_tokens(const PackedBatch& batch);

}  // namespace wm
