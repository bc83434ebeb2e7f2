// A packed batch as the model consumes it: B rows x S tokens flattened to T = B*S rows.
//
// Documents are laid end to end inside a row; each has its own position ids (restarting at 0)
// and attends only to itself (doc_start). Padding choice: every padding token is its own
// one-token document (doc_start[t] == t), has target -100 and loss weight 0, and is flagged in
// `is_padding` so that it is never a WeMask sink row.
#pragma once
#include <cstdint>
#include <vector>

#include "kernels/backend.h"
#include "kernels/buffer.h"

namespace wm {

constexpr int32_t kIgnoreIndex = -100;

// Host-side description of a batch (what a data loader produces).
struct HostBatch {
  int64_t rows = 0, seq = 0;       // B, S
  std::vector<int32_t> tokens;     // [T]
  std::vector<int32_t> targets;    // [T] next-token id, or kIgnoreIndex
  std::vector<int32_t> positions;  // [T] position within the document
  std::vector<int32_t> doc_start;  // [T] flat index of the first token of t's document
  std::vector<float> loss_weight;  // [T] weight of each token's loss (0 where ignored)
  std::vector<uint8_t> is_padding; // [T] 1 for padding tokens

  int64_t num_tokens() const { return rows * seq; }
  // Flat indices t that start a (non-padding) document: the WeMask sink rows.
  std::vector<int32_t> sink_rows() const;
  int64_t num_loss_tokens() const;  // tokens whose target is not ignored
  // Throws std::invalid_argument naming the field and index when sizes or values are inconsistent.
  void validate(int64_t vocab_size = -1) const;
};

// Fills positions, doc_start and is_padding from the document lengths of each row
// (doc_lengths[r] sums to at most seq; the rest of the row is padding). tokens/targets untouched.
void set_document_layout(HostBatch& batch, const std::vector<std::vector<int64_t>>& doc_lengths);

// Builds a batch from documents of token ids: row r holds the documents docs[r] end to end,
// then padding (pad_id). Targets are the next token inside each document (-100 at its last token).
// Loss weights are 1/num_loss_tokens (the mean over the batch) unless `weight` > 0 is given.
HostBatch pack_documents(const std::vector<std::vector<std::vector<int32_t>>>& docs, int64_t seq,
                         int32_t pad_id = 0, float weight = 0.0f);

// The batch on a device, in the dtypes the ops want.
class Batch {
 public:
  Batch(HostBatch host, Device device);

  const HostBatch& host() const { return host_; }
  int64_t num_tokens() const { return host_.num_tokens(); }
  Device device() const { return device_; }

  const Tensor& tokens() const { return tokens_.t(); }          // I32 [T]
  const Tensor& targets() const { return targets_.t(); }        // I32 [T]
  const Tensor& positions() const { return positions_.t(); }    // I32 [T]
  const Tensor& doc_start() const { return doc_start_.t(); }    // I32 [T]
  const Tensor& loss_weight() const { return loss_weight_.t(); }// F32 [T]
  const Tensor& sink_rows() const { return sink_rows_.t(); }    // I32 [R]
  const std::vector<int32_t>& sink_rows_host() const { return sink_rows_host_; }
  // Host-side facts about the document layout for the attention ops (whole-row documents).
  const AttnDocs& attn_docs() const { return attn_docs_; }

 private:
  HostBatch host_;
  Device device_;
  std::vector<int32_t> sink_rows_host_;
  AttnDocs attn_docs_;
  OwnedTensor tokens_, targets_, positions_, doc_start_, loss_weight_, sink_rows_;
  OwnedTensor doc_begin_, doc_end_;  // documents of >= 2 tokens, for attn_docs_
};

}  // namespace wm
