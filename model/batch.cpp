#include "model/batch.h"

#include <algorithm>
#include <stdexcept>
#include <string>

#include "kernels/ops.h"

namespace wm {

namespace {

[[noreturn]] void bad(const std::string& what) { throw std::invalid_argument("Batch: " + what); }

template <class T>
OwnedTensor upload(const std::vector<T>& host, Device device) {
  OwnedTensor t({static_cast<int64_t>(host.size())}, dtype_of<T>(), device);
  if (!host.empty()) {
    Tensor src = Tensor::from_shape(const_cast<T*>(host.data()),
                                    std::vector<int64_t>{static_cast<int64_t>(host.size())},
                                    dtype_of<T>(), Device::CPU);
    ops::copy(t.t(), src);
  }
  return t;
}

}  // namespace

std::vector<int32_t> HostBatch::sink_rows() const {
  std::vector<int32_t> rows_out;
  for (int64_t t = 0; t < num_tokens(); ++t)
    if (doc_start[t] == t && !is_padding[t]) rows_out.push_back(static_cast<int32_t>(t));
  return rows_out;
}

int64_t HostBatch::num_loss_tokens() const {
  int64_t n = 0;
  for (auto y : targets) n += (y != kIgnoreIndex);
  return n;
}

void HostBatch::validate(int64_t vocab_size) const {
  if (rows <= 0 || seq <= 0) bad("rows and seq must be positive, got " + std::to_string(rows) + "x" + std::to_string(seq));
  const size_t T = static_cast<size_t>(num_tokens());
  auto check_size = [&](size_t n, const char* field) {
    if (n != T) bad(std::string(field) + " has " + std::to_string(n) + " entries, expected " + std::to_string(T));
  };
  check_size(tokens.size(), "tokens");
  check_size(targets.size(), "targets");
  check_size(positions.size(), "positions");
  check_size(doc_start.size(), "doc_start");
  check_size(loss_weight.size(), "loss_weight");
  check_size(is_padding.size(), "is_padding");
  for (size_t t = 0; t < T; ++t) {
    const auto at = " at token " + std::to_string(t);
    const int64_t row_begin = static_cast<int64_t>(t) / seq * seq;
    if (doc_start[t] < row_begin || doc_start[t] > static_cast<int64_t>(t))
      bad("doc_start " + std::to_string(doc_start[t]) + at + " is outside its row before t");
    if (positions[t] != static_cast<int64_t>(t) - doc_start[t])
      bad("position " + std::to_string(positions[t]) + at + " does not match its document start");
    if (vocab_size > 0) {
      if (tokens[t] < 0 || tokens[t] >= vocab_size)
        bad("token id " + std::to_string(tokens[t]) + at + " is outside the vocabulary [0, " + std::to_string(vocab_size) + ")");
      if (targets[t] != kIgnoreIndex && (targets[t] < 0 || targets[t] >= vocab_size))
        bad("target id " + std::to_string(targets[t]) + at + " is outside the vocabulary");
    }
    if (is_padding[t] && (doc_start[t] != static_cast<int64_t>(t) || targets[t] != kIgnoreIndex))
      bad("padding" + at + " must be its own document with target -100");
  }
}

void set_document_layout(HostBatch& b, const std::vector<std::vector<int64_t>>& doc_lengths) {
  if (static_cast<int64_t>(doc_lengths.size()) != b.rows)
    bad("doc_lengths has " + std::to_string(doc_lengths.size()) + " rows, expected " + std::to_string(b.rows));
  const int64_t T = b.num_tokens();
  b.positions.assign(T, 0);
  b.doc_start.assign(T, 0);
  b.is_padding.assign(T, 0);
  for (int64_t r = 0; r < b.rows; ++r) {
    int64_t t = r * b.seq;
    const int64_t row_end = t + b.seq;
    for (int64_t len : doc_lengths[r]) {
      if (len <= 0 || t + len > row_end)
        bad("row " + std::to_string(r) + ": document lengths must be positive and fit in " + std::to_string(b.seq) + " tokens");
      for (int64_t i = 0; i < len; ++i) {
        b.positions[t + i] = static_cast<int32_t>(i);
        b.doc_start[t + i] = static_cast<int32_t>(t);
      }
      t += len;
    }
    for (; t < row_end; ++t) {  // padding: one-token documents
      b.doc_start[t] = static_cast<int32_t>(t);
      b.is_padding[t] = 1;
    }
  }
}

HostBatch pack_documents(const std::vector<std::vector<std::vector<int32_t>>>& docs, int64_t seq,
                         int32_t pad_id, float weight) {
  HostBatch b;
  b.rows = static_cast<int64_t>(docs.size());
  b.seq = seq;
  const int64_t T = b.num_tokens();
  b.tokens.assign(T, pad_id);
  b.targets.assign(T, kIgnoreIndex);
  std::vector<std::vector<int64_t>> lengths(docs.size());
  for (size_t r = 0; r < docs.size(); ++r) {
    int64_t t = static_cast<int64_t>(r) * seq;
    for (const auto& doc : docs[r]) {
      lengths[r].push_back(static_cast<int64_t>(doc.size()));
      if (t + static_cast<int64_t>(doc.size()) > static_cast<int64_t>(r + 1) * seq)
        bad("row " + std::to_string(r) + ": documents do not fit in " + std::to_string(seq) + " tokens");
      for (size_t i = 0; i < doc.size(); ++i) {
        b.tokens[t + i] = doc[i];
        if (i + 1 < doc.size()) b.targets[t + i] = doc[i + 1];
      }
      t += static_cast<int64_t>(doc.size());
    }
  }
  set_document_layout(b, lengths);
  const int64_t n = b.num_loss_tokens();
  const float w = weight > 0 ? weight : (n > 0 ? 1.0f / static_cast<float>(n) : 0.0f);
  b.loss_weight.assign(T, 0.0f);
  for (int64_t t = 0; t < T; ++t)
    if (b.targets[t] != kIgnoreIndex) b.loss_weight[t] = w;
  return b;
}

Batch::Batch(HostBatch host, Device device) : host_(std::move(host)), device_(device) {
  host_.validate();
  sink_rows_host_ = host_.sink_rows();
  attn_docs_.rows = host_.rows;
  attn_docs_.seq = host_.seq;
  attn_docs_.whole_rows = host_.seq > 0;
  for (int64_t t = 0; t < host_.num_tokens() && attn_docs_.whole_rows; ++t)
    attn_docs_.whole_rows = host_.doc_start[t] == (t / host_.seq) * host_.seq;
  // Runs of tokens sharing a doc_start, of length >= 2 (validate() checked doc_start).
  std::vector<int32_t> begin, end;
  const auto T = static_cast<int32_t>(host_.num_tokens());
  for (int32_t t = 0; t < T;) {
    int32_t e = t + 1;
    while (e < T && host_.doc_start[e] == host_.doc_start[t]) ++e;
    if (e - t >= 2) {
      begin.push_back(t);
      end.push_back(e);
      attn_docs_.max_doc_len = std::max<int64_t>(attn_docs_.max_doc_len, e - t);
    }
    t = e;
  }
  attn_docs_.num_docs = static_cast<int64_t>(begin.size());
  if (!begin.empty()) {
    doc_begin_ = upload(begin, device);
    doc_end_ = upload(end, device);
    attn_docs_.doc_begin = doc_begin_.t().ptr<const int32_t>();
    attn_docs_.doc_end = doc_end_.t().ptr<const int32_t>();
  }
  tokens_ = upload(host_.tokens, device);
  targets_ = upload(host_.targets, device);
  positions_ = upload(host_.positions, device);
  doc_start_ = upload(host_.doc_start, device);
  loss_weight_ = upload(host_.loss_weight, device);
  sink_rows_ = upload(sink_rows_host_, device);
}

}  // namespace wm
