#include "rl/sequence_batch.h"

#include <stdexcept>
#include <string>

namespace wm::rl {

SequenceBatch build_sequence_batch(const std::vector<std::span<const int32_t>>& prompts,
                                   const std::vector<std::span<const int32_t>>& responses, int32_t pad_id) {
  if (prompts.size() != responses.size() || prompts.empty())
    throw std::invalid_argument("build_sequence_batch: need as many (> 0) prompts as responses");
  std::vector<std::vector<int32_t>> docs;
  int64_t total = 0;
  for (size_t i = 0; i < prompts.size(); ++i) {
    if (prompts[i].empty() || responses[i].empty())
      throw std::invalid_argument("build_sequence_batch: sequence " + std::to_string(i) + " has an empty " +
                                  (prompts[i].empty() ? "prompt" : "response"));
    std::vector<int32_t> d(prompts[i].begin(), prompts[i].end());
    d.insert(d.end(), responses[i].begin(), responses[i].end());
    total += static_cast<int64_t>(d.size());
    docs.push_back(std::move(d));
  }
  SequenceBatch b;
  b.host = pack_documents({docs}, total, pad_id);
  std::fill(b.host.targets.begin(), b.host.targets.end(), kIgnoreIndex);
  std::fill(b.host.loss_weight.begin(), b.host.loss_weight.end(), 0.0f);
  b.seq_offsets.push_back(0);
  int64_t start = 0;
  for (size_t i = 0; i < docs.size(); ++i) {
    const int64_t p = static_cast<int64_t>(prompts[i].size());
    for (size_t r = 0; r < responses[i].size(); ++r) {
      const int64_t t = start + p - 1 + static_cast<int64_t>(r);  // position predicting response[r]
      b.host.targets[t] = responses[i][r];
      b.host.loss_weight[t] = 1.0f;
      b.target_row.push_back(t);
    }
    b.seq_offsets.push_back(static_cast<int64_t>(b.target_row.size()));
    start += static_cast<int64_t>(docs[i].size());
  }
  return b;
}

std::vector<float> response_logp(const SequenceBatch& b, const std::vector<double>& token_loss) {
  if (static_cast<int64_t>(token_loss.size()) != b.host.num_tokens())
    throw std::invalid_argument("response_logp: token_loss has " + std::to_string(token_loss.size()) +
                                " entries, the batch " + std::to_string(b.host.num_tokens()));
  std::vector<float> out(b.target_row.size());
  for (size_t i = 0; i < out.size(); ++i) out[i] = static_cast<float>(-token_loss[b.target_row[i]]);
  return out;
}

std::vector<float> token_loss_grad(const SequenceBatch& b, std::span<const float> dloss_dlogp, double scale) {
  if (dloss_dlogp.size() != b.target_row.size())
    throw std::invalid_argument("token_loss_grad: one derivative per response token is needed");
  std::vector<float> out(static_cast<size_t>(b.host.num_tokens()), 0.0f);
  for (size_t i = 0; i < dloss_dlogp.size(); ++i)
    out[b.target_row[i]] = static_cast<float>(-scale * dloss_dlogp[i]);
  return out;
}

}  // namespace wm::rl
