#include "data/loader.h"

#include <stdexcept>

#include <spdlog/spdlog.h>

namespace wm {

namespace {

uint64_t splitmix64(uint64_t& state) {
  uint64_t z = (state += 0x9E3779B97F4A7C15ULL);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}

// Uniform in [0, n) without modulo bias (rejection), so the order is the same on every platform.
uint64_t uniform_below(uint64_t& state, uint64_t n) {
  const uint64_t limit = UINT64_MAX - UINT64_MAX % n;
  uint64_t x;
  do x = splitmix64(state);
  while (x >= limit);
  return x % n;
}

const char* mode_name(BatchMode m) { return m == BatchMode::packed ? "packed" : "padded"; }

}  // namespace

BatchMode parse_batch_mode(const std::string& s) {
  if (s == "packed") return BatchMode::packed;
  if (s == "padded") return BatchMode::padded;
  throw std::invalid_argument("unknown batch mode '" + s + "' (expected packed or padded)");
}

TruncationSide parse_truncation_side(const std::string& s) {
  if (s == "right") return TruncationSide::right;
  if (s == "left") return TruncationSide::left;
  throw std::invalid_argument("unknown truncation side '" + s + "' (expected right or left)");
}

OverlongPolicy parse_overlong_policy(const std::string& s) {
  if (s == "truncate") return OverlongPolicy::truncate;
  if (s == "skip") return OverlongPolicy::skip;
  throw std::invalid_argument("unknown overlong policy '" + s + "' (expected truncate or skip)");
}

void to_json(nlohmann::json& j, const LoaderState& s) {
  j = nlohmann::json{{"seed", s.seed},           {"epoch", s.epoch},     {"step", s.step},
                     {"rank", s.rank},           {"world", s.world},     {"global_rows", s.global_rows},
                     {"max_seq_len", s.max_seq_len}, {"mode", s.mode}, {"dataset_size", s.dataset_size}};
}

void from_json(const nlohmann::json& j, LoaderState& s) {
  for (const char* key : {"seed", "epoch", "step", "rank", "world", "global_rows", "max_seq_len", "mode", "dataset_size"})
    if (!j.contains(key)) throw std::invalid_argument(std::string("loader state: missing key '") + key + "'");
  j.at("seed").get_to(s.seed);
  j.at("epoch").get_to(s.epoch);
  j.at("step").get_to(s.step);
  j.at("rank").get_to(s.rank);
  j.at("world").get_to(s.world);
  j.at("global_rows").get_to(s.global_rows);
  j.at("max_seq_len").get_to(s.max_seq_len);
  j.at("mode").get_to(s.mode);
  j.at("dataset_size").get_to(s.dataset_size);
}

DataLoader::DataLoader(std::shared_ptr<const TokenizedDataset> data, LoaderOptions options)
    : data_(std::move(data)), o_(options) {
  if (!data_ || data_->size() == 0) throw std::invalid_argument("data loader: the dataset has no examples");
  if (o_.max_seq_len < 2) throw std::invalid_argument("data loader: max_seq_len must be at least 2");
  if (o_.rows_per_rank < 1) throw std::invalid_argument("data loader: rows_per_rank must be at least 1");
  if (o_.world < 1 || o_.rank < 0 || o_.rank >= o_.world)
    throw std::invalid_argument("data loader: rank " + std::to_string(o_.rank) + " is not in [0, world=" +
                                std::to_string(o_.world) + ")");
}

void DataLoader::plan_epoch() {
  if (planned_epoch_ == epoch_) return;
  const int64_t n = static_cast<int64_t>(data_->size());
  const int64_t S = o_.max_seq_len;
  std::vector<int64_t> order(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) order[i] = i;
  if (o_.shuffle) {
    uint64_t state = o_.seed ^ (0xD1B54A32D192ED03ULL * static_cast<uint64_t>(epoch_ + 1));
    for (int64_t i = n - 1; i > 0; --i) std::swap(order[i], order[uniform_below(state, static_cast<uint64_t>(i + 1))]);
  }
  rows_.clear();
  stats_ = LoaderEpochStats{};
  int64_t used = S;  // forces a new row for the first example
  for (int64_t idx : order) {
    const int64_t len = data_->length(static_cast<size_t>(idx));
    Piece piece{idx, 0, len};
    stats_.examples += 1;
    if (len > S) {
      stats_.overlong += 1;
      if (o_.overlong == OverlongPolicy::skip) {
        stats_.skipped_overlong += 1;
        continue;
      }
      stats_.truncated_tokens += len - S;
      piece.length = S;
      piece.begin = o_.truncation == TruncationSide::right ? 0 : len - S;
    }
    if (o_.mode == BatchMode::padded || used + piece.length > S) {
      rows_.emplace_back();
      used = 0;
    }
    rows_.back().push_back(piece);
    used += piece.length;
  }
  if (rows_.empty())
    throw std::invalid_argument("data loader: no example fits in max_seq_len " + std::to_string(S) +
                                " (all " + std::to_string(n) + " are longer and overlong is 'skip')");
  const int64_t G = o_.world * o_.rows_per_rank;
  stats_.rows = static_cast<int64_t>(rows_.size());
  steps_ = (stats_.rows + G - 1) / G;
  stats_.padding_rows = steps_ * G - stats_.rows;
  int64_t data_tokens = 0;
  for (const auto& row : rows_)
    for (const Piece& p : row) data_tokens += p.length;
  stats_.padding_tokens = steps_ * G * S - data_tokens;
  planned_epoch_ = epoch_;
  if (stats_.overlong > 0)
    spdlog::warn("data loader epoch {}: {} of {} examples are longer than {} tokens ({}: {} tokens cut, {} examples left out)",
                 epoch_, stats_.overlong, stats_.examples, S,
                 o_.overlong == OverlongPolicy::skip ? "skip" : "truncate", stats_.truncated_tokens, stats_.skipped_overlong);
}

int64_t DataLoader::steps_per_epoch() {
  plan_epoch();
  return steps_;
}

const LoaderEpochStats& DataLoader::epoch_stats() {
  plan_epoch();
  return stats_;
}

void DataLoader::fill_row(PackedBatch& b, int64_t r, int64_t global_row) const {
  const int64_t S = o_.max_seq_len;
  const int64_t base = r * S;
  int64_t col = 0;
  if (global_row < static_cast<int64_t>(rows_.size())) {
    for (const Piece& p : rows_[static_cast<size_t>(global_row)]) {
      auto toks = data_->tokens(static_cast<size_t>(p.example)).subspan(static_cast<size_t>(p.begin), static_cast<size_t>(p.length));
      auto mask = data_->loss_mask(static_cast<size_t>(p.example)).subspan(static_cast<size_t>(p.begin), static_cast<size_t>(p.length));
      const int64_t start = base + col;
      for (int64_t k = 0; k < p.length; ++k) {
        const int64_t t = start + k;
        b.tokens[t] = toks[k];
        b.positions[t] = static_cast<int32_t>(k);
        b.doc_start[t] = static_cast<int32_t>(start);
        b.is_padding[t] = 0;
        const bool learn_next = k + 1 < p.length && mask[k + 1];
        b.targets[t] = learn_next ? toks[k + 1] : kIgnoreTarget;
        b.loss_tokens += learn_next ? 1 : 0;
      }
      b.doc_lengths[r].push_back(p.length);
      b.example_indices.push_back(p.example);
      col += p.length;
    }
  }
  for (; col < S; ++col) {  // padding: each token its own document
    const int64_t t = base + col;
    b.tokens[t] = o_.pad_id;
    b.positions[t] = 0;
    b.doc_start[t] = static_cast<int32_t>(t);
    b.is_padding[t] = 1;
    b.targets[t] = kIgnoreTarget;
  }
}

PackedBatch DataLoader::next() {
  plan_epoch();
  const int64_t B = o_.rows_per_rank, S = o_.max_seq_len;
  PackedBatch b;
  b.rows = B;
  b.seq = S;
  b.epoch = epoch_;
  b.step = step_;
  const size_t T = static_cast<size_t>(B * S);
  b.tokens.resize(T);
  b.targets.resize(T);
  b.positions.resize(T);
  b.doc_start.resize(T);
  b.is_padding.resize(T);
  b.doc_lengths.resize(static_cast<size_t>(B));
  const int64_t first = step_ * o_.world * B + o_.rank * B;
  for (int64_t r = 0; r < B; ++r) fill_row(b, r, first + r);
  if (++step_ == steps_) {
    step_ = 0;
    ++epoch_;
  }
  return b;
}

LoaderState DataLoader::state() const {
  LoaderState s;
  s.seed = o_.seed;
  s.epoch = epoch_;
  s.step = step_;
  s.rank = o_.rank;
  s.world = o_.world;
  s.global_rows = o_.world * o_.rows_per_rank;
  s.max_seq_len = o_.max_seq_len;
  s.mode = mode_name(o_.mode);
  s.dataset_size = static_cast<int64_t>(data_->size());
  return s;
}

void DataLoader::restore(const LoaderState& s) {
  auto mismatch = [](const std::string& what, const std::string& saved, const std::string& now) {
    throw std::invalid_argument("loader state was saved with " + what + " " + saved + ", this run has " + now);
  };
  if (s.max_seq_len != o_.max_seq_len) mismatch("max_seq_len", std::to_string(s.max_seq_len), std::to_string(o_.max_seq_len));
  if (s.global_rows != o_.world * o_.rows_per_rank)
    mismatch("world*rows_per_rank", std::to_string(s.global_rows), std::to_string(o_.world * o_.rows_per_rank));
  if (s.mode != mode_name(o_.mode)) mismatch("mode", s.mode, mode_name(o_.mode));
  if (s.dataset_size != static_cast<int64_t>(data_->size()))
    mismatch("a dataset of size", std::to_string(s.dataset_size), std::to_string(data_->size()));
  if (s.epoch < 0 || s.step < 0) throw std::invalid_argument("loader state: negative epoch or step");
  o_.seed = s.seed;
  epoch_ = s.epoch;
  step_ = s.step;
  planned_epoch_ = -1;
  plan_epoch();
  if (step_ >= steps_)
    throw std::invalid_argument("loader state: step " + std::to_string(step_) + " is past the epoch's " +
                                std::to_string(steps_) + " steps");
}

}  // namespace wm
