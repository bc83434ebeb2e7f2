// What the loader hands the trainer each step, on the host: B rows x S tokens, flattened row-major
// to T = B*S (index t = row * S + column).
//
//   tokens[t]     token id (pad_id on padding)
//   targets[t]    the id the model must predict at t, i.e. tokens[t+1], when t+1 is in the same
//                 document and its loss mask is on; -100 otherwise (the last token of a document,
//                 tokens before the assistant's reply, padding)
//   positions[t]  position of t inside its document: restarts at 0 for every packed document
//   doc_start[t]  flat index of the first token of t's document; attention lets t see exactly
//                 [doc_start[t], t] (causal, never across documents)
//   is_padding[t] 1 on padding. Padding convention (as model/batch.h's HostBatch): every padding
//                 token is its own one-token document: doc_start[t] == t, positions[t] == 0
//   loss_tokens   number of t with targets[t] != -100
// Documents never cross rows. doc_lengths[r] lists row r's documents in order (padding excluded);
// example_indices lists the dataset index of each document of the batch in the same order.
#pragma once
#include <cstdint>
#include <vector>

namespace wm {

constexpr int32_t kIgnoreTarget = -100;

struct PackedBatch {
  int64_t rows = 0;  // B
  int64_t seq = 0;   // S
  std::vector<int32_t> tokens;
  std::vector<int32_t> targets;
  std::vector<int32_t> positions;
  std::vector<int32_t> doc_start;
  std::vector<uint8_t> is_padding;
  int64_t loss_tokens = 0;
  std::vector<std::vector<int64_t>> doc_lengths;
  std::vector<int64_t> example_indices;
  int64_t epoch = 0;  // the epoch and step (within it) this batch belongs to
  int64_t step = 0;
};

}  // namespace wm
