#include "data/tokenizer.h"

#include <algorithm>
#include <climits>
#include <queue>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include <nlohmann/json.hpp>

#include "data/byte_level.h"
#include "data/hash.h"
#include "data/nfc.h"
#include "data/utf8.h"

namespace wm {

using json = nlohmann::json;

namespace {

constexpr size_t kCacheLimit = 200000;  // pieces; the cache is cleared when it grows past this

[[noreturn]] void unsupported(const std::string& path, const std::string& what) {
  throw std::runtime_error(path + ": unsupported tokenizer.json: " + what);
}

// Checks that the pre-tokenizer is Split(regex, Isolated) followed by ByteLevel without its own
// regex, as in Qwen2/Qwen3; returns the regex.
std::string split_regex(const std::string& path, const json& pre) {
  if (pre.is_null() || pre.value("type", "") != "Sequence") unsupported(path, "pre_tokenizer must be a Sequence");
  const json& steps = pre.at("pretokenizers");
  if (steps.size() != 2) unsupported(path, "pre_tokenizer Sequence must be [Split, ByteLevel]");
  const json& split = steps[0];
  const json& bytelevel = steps[1];
  if (split.value("type", "") != "Split" || !split.at("pattern").contains("Regex"))
    unsupported(path, "first pre-tokenizer must be a Split with a Regex pattern");
  if (split.value("behavior", "") != "Isolated" || split.value("invert", false))
    unsupported(path, "Split behavior must be Isolated, not inverted");
  if (bytelevel.value("type", "") != "ByteLevel" || bytelevel.value("use_regex", true) ||
      bytelevel.value("add_prefix_space", false))
    unsupported(path, "second pre-tokenizer must be ByteLevel with use_regex=false, add_prefix_space=false");
  return split.at("pattern").at("Regex").get<std::string>();
}

}  // namespace

Tokenizer::Tokenizer() : cache_(std::make_unique<Cache>()) {}
Tokenizer::Tokenizer(Tokenizer&&) noexcept = default;
Tokenizer& Tokenizer::operator=(Tokenizer&&) noexcept = default;
Tokenizer::~Tokenizer() = default;

Tokenizer Tokenizer::from_dir(const std::string& model_dir) { return from_file(model_dir + "/tokenizer.json"); }

Tokenizer Tokenizer::from_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot open tokenizer file " + path);
  std::stringstream ss;
  ss << in.rdbuf();
  const std::string text = ss.str();
  json root;
  try {
    root = json::parse(text);
  } catch (const json::exception& e) {
    throw std::runtime_error(path + ": not valid JSON: " + e.what());
  }

  Tokenizer t;
  t.path_ = path;
  t.fingerprint_ = Fnv1a64().add(text).value();

  const json& norm = root.at("normalizer");
  if (!norm.is_null()) {
    if (norm.value("type", "") != "NFC") unsupported(path, "normalizer must be NFC or null");
    t.nfc_ = true;
  }
  t.splitter_ = std::make_unique<RegexSplitter>(split_regex(path, root.at("pre_tokenizer")));

  const json& model = root.at("model");
  if (model.value("type", "") != "BPE") unsupported(path, "model must be BPE");
  if (!model.value("dropout", json()).is_null() || model.value("byte_fallback", false) ||
      !model.value("continuing_subword_prefix", json("")).get<std::string>().empty() ||
      !model.value("end_of_word_suffix", json("")).get<std::string>().empty() || model.value("ignore_merges", false))
    unsupported(path, "BPE with dropout, byte_fallback, subword prefix/suffix or ignore_merges");

  // Vocab: token text in the byte-level alphabet -> id.
  const json& vocab = model.at("vocab");
  int32_t max_id = -1;
  for (auto it = vocab.begin(); it != vocab.end(); ++it) max_id = std::max(max_id, it.value().get<int32_t>());
  for (const json& a : root.at("added_tokens")) max_id = std::max(max_id, a.at("id").get<int32_t>());
  t.id_bytes_.assign(static_cast<size_t>(max_id + 1), std::string());
  t.id_special_.assign(static_cast<size_t>(max_id + 1), 0);
  std::vector<uint8_t> assigned(static_cast<size_t>(max_id + 1), 0);
  std::string bytes;
  for (auto it = vocab.begin(); it != vocab.end(); ++it) {
    int32_t id = it.value().get<int32_t>();
    if (id < 0) throw std::runtime_error(path + ": negative id for token '" + it.key() + "'");
    if (!byte_level::decode_token(it.key(), bytes))
      throw std::runtime_error(path + ": vocab token '" + it.key() + "' (id " + std::to_string(id) +
                               ") is not in the byte-level alphabet");
    t.id_bytes_[id] = bytes;
    assigned[id] = 1;
    t.bpe_ids_.emplace(bytes, id);
  }
  for (int b = 0; b < 256; ++b) {
    auto it = t.bpe_ids_.find(std::string(1, static_cast<char>(b)));
    if (it == t.bpe_ids_.end()) throw std::runtime_error(path + ": vocab lacks the single-byte token for byte " + std::to_string(b));
    t.byte_ids_[b] = it->second;
  }

  // Merges: "a b" strings (older files) or ["a", "b"] pairs.
  const json& merges = model.at("merges");
  t.merges_.reserve(merges.size() * 2);
  std::string left, right;
  int32_t rank = 0;
  for (const json& m : merges) {
    std::string a, b;
    if (m.is_array()) {
      a = m.at(0).get<std::string>();
      b = m.at(1).get<std::string>();
    } else {
      const std::string s = m.get<std::string>();
      size_t sp = s.find(' ');
      if (sp == std::string::npos) throw std::runtime_error(path + ": merge '" + s + "' has no space");
      a = s.substr(0, sp);
      b = s.substr(sp + 1);
    }
    auto ia = vocab.find(a), ib = vocab.find(b), iab = vocab.find(a + b);
    if (ia == vocab.end() || ib == vocab.end() || iab == vocab.end())
      throw std::runtime_error(path + ": merge #" + std::to_string(rank) + " ('" + a + "', '" + b +
                               "') refers to a token not in the vocab");
    t.merges_.emplace(pair_key(ia->get<int32_t>(), ib->get<int32_t>()), Merge{rank, iab->get<int32_t>()});
    ++rank;
  }

  // Added tokens, matched on the raw text before anything else.
  for (const json& a : root.at("added_tokens")) {
    AddedToken tok{a.at("id").get<int32_t>(), a.at("content").get<std::string>(), a.value("special", false)};
    if (a.value("lstrip", false) || a.value("rstrip", false) || a.value("single_word", false) ||
        a.value("normalized", false))
      unsupported(path, "added token '" + tok.content + "' uses lstrip/rstrip/single_word/normalized");
    if (tok.content.empty()) unsupported(path, "empty added token");
    // The ByteLevel decoder maps a token through the alphabet when it can, else emits it as is.
    std::string decoded;
    t.id_bytes_[tok.id] = byte_level::decode_token(tok.content, decoded) ? decoded : tok.content;
    t.id_special_[tok.id] = tok.special ? 1 : 0;
    assigned[tok.id] = 1;
    t.added_.push_back(tok);
  }
  for (size_t i = 0; i < t.added_.size(); ++i)
    t.added_by_first_byte_[static_cast<unsigned char>(t.added_[i].content[0])].push_back(static_cast<int32_t>(i));
  for (auto& list : t.added_by_first_byte_)
    std::stable_sort(list.begin(), list.end(), [&](int32_t x, int32_t y) {
      return t.added_[x].content.size() > t.added_[y].content.size();
    });
  for (int32_t id = 0; id <= max_id; ++id)
    if (!assigned[id]) throw std::runtime_error(path + ": id " + std::to_string(id) + " has no token");
  return t;
}

std::optional<int32_t> Tokenizer::token_id(std::string_view s) const {
  for (const AddedToken& a : added_)
    if (a.content == s) return a.id;
  auto it = bpe_ids_.find(std::string(s));
  if (it != bpe_ids_.end()) return it->second;
  return std::nullopt;
}

int32_t Tokenizer::require_token_id(std::string_view content) const {
  auto id = token_id(content);
  if (!id) throw std::runtime_error(path_ + ": the tokenizer has no token '" + std::string(content) + "'");
  return *id;
}

bool Tokenizer::is_special(int32_t id) const {
  return id >= 0 && id < vocab_size() && id_special_[static_cast<size_t>(id)] != 0;
}

std::vector<int32_t> Tokenizer::encode(std::string_view text) const {
  std::vector<int32_t> ids;
  encode(text, ids, nullptr);
  return ids;
}

void Tokenizer::encode(std::string_view input, std::vector<int32_t>& ids, std::vector<size_t>* starts) const {
  ids.clear();
  if (starts) starts->clear();
  std::string repaired;
  std::string_view text = input;
  if (!utf8::is_valid(input)) {
    repaired = utf8::repair(input);
    text = repaired;
  }
  size_t segment_begin = 0;
  size_t pos = 0;
  while (pos < text.size()) {
    const auto& candidates = added_by_first_byte_[static_cast<unsigned char>(text[pos])];
    const AddedToken* hit = nullptr;
    for (int32_t idx : candidates) {
      const std::string& c = added_[idx].content;
      if (text.compare(pos, c.size(), c) == 0) {
        hit = &added_[idx];
        break;  // longest first
      }
    }
    if (!hit) {
      ++pos;
      continue;
    }
    encode_segment(text.substr(segment_begin, pos - segment_begin), segment_begin, ids, starts);
    ids.push_back(hit->id);
    if (starts) starts->push_back(pos);
    pos += hit->content.size();
    segment_begin = pos;
  }
  encode_segment(text.substr(segment_begin), segment_begin, ids, starts);
}

void Tokenizer::encode_segment(std::string_view segment, size_t base, std::vector<int32_t>& ids,
                               std::vector<size_t>* starts) const {
  if (segment.empty()) return;
  std::string normalized;
  bool changed = nfc_ && nfc_normalize(segment, normalized);
  std::string_view text = changed ? std::string_view(normalized) : segment;
  std::vector<std::pair<size_t, size_t>> pieces;
  splitter_->split(text, pieces);
  for (auto [b, e] : pieces) {
    size_t first = ids.size();
    bpe_cached(text.substr(b, e - b), ids);
    if (!starts) continue;
    size_t offset = base + b;
    for (size_t k = first; k < ids.size(); ++k) {
      starts->push_back(changed ? base : offset);
      offset += id_bytes_[static_cast<size_t>(ids[k])].size();
    }
  }
}

void Tokenizer::bpe_cached(std::string_view piece, std::vector<int32_t>& out) const {
  {
    std::lock_guard<std::mutex> lock(cache_->mutex);
    auto it = cache_->words.find(std::string(piece));
    if (it != cache_->words.end()) {
      out.insert(out.end(), it->second.begin(), it->second.end());
      return;
    }
  }
  size_t first = out.size();
  bpe(piece, out);
  std::lock_guard<std::mutex> lock(cache_->mutex);
  if (cache_->words.size() >= kCacheLimit) cache_->words.clear();
  cache_->words.emplace(std::string(piece), std::vector<int32_t>(out.begin() + static_cast<std::ptrdiff_t>(first), out.end()));
}

void Tokenizer::bpe(std::string_view piece, std::vector<int32_t>& out) const {
  if (piece.size() > heap_threshold_) {
    bpe_heap(piece, out);
    return;
  }
  // symbols[i]: current token ids; ranks[i]: merge rank of (symbols[i], symbols[i+1]).
  std::vector<int32_t> symbols;
  symbols.reserve(piece.size());
  for (unsigned char c : piece) symbols.push_back(byte_ids_[c]);
  auto rank_of = [&](size_t i, int32_t* merged) {
    auto it = merges_.find(pair_key(symbols[i], symbols[i + 1]));
    if (it == merges_.end()) return INT_MAX;
    if (merged) *merged = it->second.id;
    return it->second.rank;
  };
  std::vector<int32_t> ranks(symbols.size(), INT_MAX);
  for (size_t i = 0; i + 1 < symbols.size(); ++i) ranks[i] = rank_of(i, nullptr);
  while (symbols.size() > 1) {
    size_t best = 0;
    for (size_t i = 1; i + 1 < symbols.size(); ++i)
      if (ranks[i] < ranks[best]) best = i;
    if (ranks[best] == INT_MAX) break;
    int32_t merged = 0;
    rank_of(best, &merged);
    symbols[best] = merged;
    symbols.erase(symbols.begin() + static_cast<std::ptrdiff_t>(best) + 1);
    ranks.erase(ranks.begin() + static_cast<std::ptrdiff_t>(best) + 1);
    ranks[best] = best + 1 < symbols.size() ? rank_of(best, nullptr) : INT_MAX;
    if (best > 0) ranks[best - 1] = rank_of(best - 1, nullptr);
  }
  out.insert(out.end(), symbols.begin(), symbols.end());
}

void Tokenizer::bpe_heap(std::string_view piece, std::vector<int32_t>& out) const {
  // Symbols in a doubly linked list over the byte positions; a min-heap of candidate merges keyed
  // by (rank, left position) so that the lowest rank merges first, the leftmost on ties. Entries
  // made stale by earlier merges are recognised on pop and dropped.
  const int32_t n = static_cast<int32_t>(piece.size());
  std::vector<int32_t> id(n), prev(n), next(n);
  std::vector<uint8_t> alive(n, 1);
  for (int32_t i = 0; i < n; ++i) {
    id[i] = byte_ids_[static_cast<unsigned char>(piece[i])];
    prev[i] = i - 1;
    next[i] = i + 1 < n ? i + 1 : -1;
  }
  struct Candidate {
    int32_t rank, left, right;
    bool operator>(const Candidate& o) const { return rank != o.rank ? rank > o.rank : left > o.left; }
  };
  std::priority_queue<Candidate, std::vector<Candidate>, std::greater<Candidate>> heap;
  auto push = [&](int32_t left) {
    if (left < 0 || next[left] < 0) return;
    if (const Merge* m = find_merge(id[left], id[next[left]])) heap.push({m->rank, left, next[left]});
  };
  for (int32_t i = 0; i + 1 < n; ++i) push(i);
  while (!heap.empty()) {
    Candidate c = heap.top();
    heap.pop();
    if (!alive[c.left] || !alive[c.right] || next[c.left] != c.right) continue;
    const Merge* m = find_merge(id[c.left], id[c.right]);
    if (!m || m->rank != c.rank) continue;  // a symbol changed since this entry was pushed
    id[c.left] = m->id;
    alive[c.right] = 0;
    next[c.left] = next[c.right];
    if (next[c.right] >= 0) prev[next[c.right]] = c.left;
    push(prev[c.left]);
    push(c.left);
  }
  for (int32_t i = 0; i >= 0 && i < n; i = next[i]) out.push_back(id[i]);
}

std::string Tokenizer::decode(std::span<const int32_t> ids, bool skip_special_tokens) const {
  std::string bytes;
  for (int32_t id : ids) {
    if (id < 0 || id >= vocab_size())
      throw std::out_of_range("token id " + std::to_string(id) + " is outside the vocabulary [0, " +
                              std::to_string(vocab_size()) + ")");
    if (skip_special_tokens && id_special_[static_cast<size_t>(id)]) continue;
    bytes += id_bytes_[static_cast<size_t>(id)];
  }
  return utf8::is_valid(bytes) ? bytes : utf8::repair(bytes);
}

}  // namespace wm
