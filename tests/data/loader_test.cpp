#include <gtest/gtest.h>

#include <map>
#include <set>

#include "data/loader.h"

namespace wm {
namespace {

// Example i has length lengths[i]; token k of example i is 1000*i + k (so every token is traceable);
// the loss mask is on for k >= prompt (prompt = 1 here: the first token of each is "prompt").
std::shared_ptr<TokenizedDataset> make_dataset(const std::vector<int64_t>& lengths) {
  auto d = std::make_shared<TokenizedDataset>();
  for (size_t i = 0; i < lengths.size(); ++i) {
    TokenizedExample ex;
    for (int64_t k = 0; k < lengths[i]; ++k) {
      ex.tokens.push_back(static_cast<int32_t>(1000 * i + k));
      ex.loss_mask.push_back(k >= 1 ? 1 : 0);
    }
    d->add(ex, static_cast<int64_t>(i + 1));
  }
  return d;
}

std::vector<int64_t> varied_lengths(int n) {
  std::vector<int64_t> out;
  for (int i = 0; i < n; ++i) out.push_back(1 + (i * 7919) % 23);
  return out;
}

// Checks the documented invariants of one batch against the dataset.
void check_batch(const PackedBatch& b, const TokenizedDataset& d, int32_t pad_id) {
  const int64_t T = b.rows * b.seq;
  ASSERT_EQ(static_cast<int64_t>(b.tokens.size()), T);
  int64_t loss = 0;
  size_t doc = 0;
  for (int64_t r = 0; r < b.rows; ++r) {
    int64_t col = 0;
    for (int64_t len : b.doc_lengths[r]) {
      const int64_t start = r * b.seq + col;
      const int64_t ex = b.example_indices[doc++];
      auto toks = d.tokens(static_cast<size_t>(ex));
      auto mask = d.loss_mask(static_cast<size_t>(ex));
      const int64_t offset = toks[0] == b.tokens[start] ? 0 : static_cast<int64_t>(toks.size()) - len;  // left truncation
      for (int64_t k = 0; k < len; ++k) {
        const int64_t t = start + k;
        EXPECT_EQ(b.tokens[t], toks[offset + k]);
        EXPECT_EQ(b.positions[t], k);
        EXPECT_EQ(b.doc_start[t], start);
        EXPECT_EQ(b.is_padding[t], 0);
        const bool learn = k + 1 < len && mask[offset + k + 1];
        EXPECT_EQ(b.targets[t], learn ? toks[offset + k + 1] : kIgnoreTarget) << "t=" << t;
        loss += learn;
      }
      col += len;
    }
    for (; col < b.seq; ++col) {
      const int64_t t = r * b.seq + col;
      EXPECT_EQ(b.tokens[t], pad_id);
      EXPECT_EQ(b.doc_start[t], t);
      EXPECT_EQ(b.positions[t], 0);
      EXPECT_EQ(b.targets[t], kIgnoreTarget);
      EXPECT_EQ(b.is_padding[t], 1);
    }
  }
  EXPECT_EQ(doc, b.example_indices.size());
  EXPECT_EQ(b.loss_tokens, loss);
}

TEST(Loader, PackingKeepsEveryExampleOnceWithPerDocumentPositions) {
  auto d = make_dataset(varied_lengths(50));
  LoaderOptions o;
  o.max_seq_len = 32;
  o.rows_per_rank = 3;
  o.seed = 7;
  DataLoader loader(d, o);
  const int64_t steps = loader.steps_per_epoch();
  std::multiset<int64_t> seen;
  int64_t packed_docs = 0;
  for (int64_t s = 0; s < steps; ++s) {
    PackedBatch b = loader.next();
    EXPECT_EQ(b.epoch, 0);
    EXPECT_EQ(b.step, s);
    check_batch(b, *d, o.pad_id);
    for (auto& row : b.doc_lengths) packed_docs += row.size() > 1;
    seen.insert(b.example_indices.begin(), b.example_indices.end());
  }
  EXPECT_EQ(seen.size(), d->size());
  for (size_t i = 0; i < d->size(); ++i) EXPECT_EQ(seen.count(static_cast<int64_t>(i)), 1u);
  EXPECT_GT(packed_docs, 0);  // rows really hold several documents
  EXPECT_EQ(loader.epoch_stats().overlong, 0);
  EXPECT_EQ(loader.next().epoch, 1);  // wraps to the next epoch
}

TEST(Loader, OverlongExamplesAreCountedAndTruncatedOrSkipped) {
  auto d = make_dataset({5, 40, 3, 100});
  LoaderOptions o;
  o.max_seq_len = 16;
  o.rows_per_rank = 1;
  o.shuffle = false;
  DataLoader right(d, o);
  EXPECT_EQ(right.epoch_stats().overlong, 2);
  EXPECT_EQ(right.epoch_stats().truncated_tokens, (40 - 16) + (100 - 16));
  std::vector<PackedBatch> batches;
  for (int64_t s = 0; s < right.steps_per_epoch(); ++s) batches.push_back(right.next());
  ASSERT_EQ(batches.size(), 4u);  // rows: [5], [16 of 40], [3], [16 of 100] (a full row takes nothing more)
  EXPECT_EQ(batches[1].tokens[0], 1000);           // right truncation keeps the start
  for (auto& b : batches) check_batch(b, *d, o.pad_id);

  o.truncation = TruncationSide::left;
  DataLoader left(d, o);
  left.next();
  PackedBatch b = left.next();
  EXPECT_EQ(b.tokens[0], 1000 + 40 - 16);  // left truncation keeps the end
  check_batch(b, *d, o.pad_id);

  o.overlong = OverlongPolicy::skip;
  DataLoader skip(d, o);
  EXPECT_EQ(skip.epoch_stats().skipped_overlong, 2);
  std::set<int64_t> seen;
  for (int64_t s = 0; s < skip.steps_per_epoch(); ++s)
    for (int64_t e : skip.next().example_indices) seen.insert(e);
  EXPECT_EQ(seen, (std::set<int64_t>{0, 2}));
}

TEST(Loader, PaddedModePutsOneExamplePerRow) {
  auto d = make_dataset({3, 5, 2, 7, 1});
  LoaderOptions o;
  o.max_seq_len = 8;
  o.rows_per_rank = 2;
  o.mode = BatchMode::padded;
  o.pad_id = 0;
  DataLoader loader(d, o);
  EXPECT_EQ(loader.steps_per_epoch(), 3);
  EXPECT_EQ(loader.epoch_stats().padding_rows, 1);  // 5 rows -> 3 steps of 2, one all-padding row
  int64_t docs = 0;
  for (int s = 0; s < 3; ++s) {
    PackedBatch b = loader.next();
    check_batch(b, *d, 0);
    for (auto& row : b.doc_lengths) {
      EXPECT_LE(row.size(), 1u);
      docs += static_cast<int64_t>(row.size());
    }
  }
  EXPECT_EQ(docs, 5);
}

TEST(Loader, ShufflingIsDeterministicPerSeedAndEpoch) {
  auto d = make_dataset(varied_lengths(40));
  auto order = [&](uint64_t seed, int epoch, bool shuffle) {
    LoaderOptions o;
    o.max_seq_len = 24;
    o.rows_per_rank = 4;
    o.seed = seed;
    o.shuffle = shuffle;
    DataLoader loader(d, o);
    std::vector<int64_t> out;
    for (int e = 0; e <= epoch; ++e) {
      out.clear();
      for (int64_t s = loader.steps_per_epoch(); s-- > 0;) {
        auto b = loader.next();
        out.insert(out.end(), b.example_indices.begin(), b.example_indices.end());
      }
    }
    return out;
  };
  EXPECT_EQ(order(1, 0, true), order(1, 0, true));
  EXPECT_NE(order(1, 0, true), order(2, 0, true));
  EXPECT_NE(order(1, 0, true), order(1, 1, true));
  std::vector<int64_t> in_order(40);
  for (int i = 0; i < 40; ++i) in_order[i] = i;
  EXPECT_EQ(order(1, 0, false), in_order);
}

TEST(Loader, ShardsOfNRanksEqualOneRankWithNTimesTheRows) {
  auto d = make_dataset(varied_lengths(101));
  const int world = 4;
  LoaderOptions one;
  one.max_seq_len = 20;
  one.rows_per_rank = 2 * world;
  one.seed = 3;
  DataLoader single(d, one);
  std::vector<DataLoader> ranks;
  for (int r = 0; r < world; ++r) {
    LoaderOptions o = one;
    o.rows_per_rank = 2;
    o.rank = r;
    o.world = world;
    ranks.emplace_back(d, o);
  }
  const int64_t steps = single.steps_per_epoch();
  for (auto& l : ranks) EXPECT_EQ(l.steps_per_epoch(), steps);
  const int64_t rank_tokens = 2 * one.max_seq_len;
  for (int64_t s = 0; s < steps + 2; ++s) {  // past the epoch boundary too
    PackedBatch all = single.next();
    int64_t loss = 0;
    for (int r = 0; r < world; ++r) {
      PackedBatch part = ranks[r].next();
      loss += part.loss_tokens;
      for (int64_t t = 0; t < rank_tokens; ++t) {
        const int64_t g = r * rank_tokens + t;
        ASSERT_EQ(part.tokens[t], all.tokens[g]);
        ASSERT_EQ(part.targets[t], all.targets[g]);
        ASSERT_EQ(part.positions[t], all.positions[g]);
        ASSERT_EQ(part.doc_start[t] + r * rank_tokens, all.doc_start[g]);
      }
    }
    EXPECT_EQ(loss, all.loss_tokens);
  }
}

TEST(Loader, ResumeContinuesWithTheVeryNextBatch) {
  auto d = make_dataset(varied_lengths(60));
  LoaderOptions o;
  o.max_seq_len = 24;
  o.rows_per_rank = 2;
  o.seed = 11;
  o.world = 2;
  o.rank = 1;
  DataLoader a(d, o);
  const int64_t steps = a.steps_per_epoch();
  for (int64_t s = 0; s < steps - 2; ++s) a.next();
  const std::string saved = nlohmann::json(a.state()).dump();

  DataLoader b(d, o);
  b.restore(nlohmann::json::parse(saved).get<LoaderState>());
  for (int k = 0; k < 5; ++k) {  // crosses into the next epoch
    PackedBatch x = a.next(), y = b.next();
    EXPECT_EQ(x.epoch, y.epoch);
    EXPECT_EQ(x.step, y.step);
    EXPECT_EQ(x.tokens, y.tokens);
    EXPECT_EQ(x.targets, y.targets);
    EXPECT_EQ(x.example_indices, y.example_indices);
  }
  LoaderState st = nlohmann::json::parse(saved).get<LoaderState>();
  EXPECT_EQ(st.rank, 1);
  EXPECT_EQ(st.world, 2);
  EXPECT_EQ(st.seed, 11u);

  LoaderOptions other = o;
  other.max_seq_len = 32;
  DataLoader c(d, other);
  EXPECT_THROW(c.restore(st), std::invalid_argument);
  nlohmann::json missing = nlohmann::json::parse(saved);
  missing.erase("epoch");
  EXPECT_THROW(missing.get<LoaderState>(), std::invalid_argument);
}

TEST(Loader, BadOptionsAreErrors) {
  auto d = make_dataset({4});
  LoaderOptions o;
  o.rank = 2;
  o.world = 2;
  EXPECT_THROW(DataLoader(d, o), std::invalid_argument);
  EXPECT_THROW(DataLoader(std::make_shared<TokenizedDataset>(), LoaderOptions{}), std::invalid_argument);
  EXPECT_THROW(parse_batch_mode("pack"), std::invalid_argument);
  LoaderOptions tiny;
  tiny.max_seq_len = 2;
  tiny.overlong = OverlongPolicy::skip;
  DataLoader all_skipped(d, tiny);
  EXPECT_THROW(all_skipped.next(), std::invalid_argument);
}

}  // namespace
}  // namespace wm
