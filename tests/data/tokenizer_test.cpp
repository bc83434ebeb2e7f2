#include <gtest/gtest.h>

#include <set>

#include "data/byte_level.h"
#include "data/nfc.h"
#include "data/utf8.h"
#include "tests/data/test_assets.h"

namespace wm {
namespace {

using testing::qwen3;
using testing::read_json;
using testing::source_path;

std::string hex_to_bytes(const std::string& hex) {
  std::string out;
  for (size_t i = 0; i + 1 < hex.size(); i += 2) out.push_back(static_cast<char>(std::stoi(hex.substr(i, 2), nullptr, 16)));
  return out;
}

TEST(Utf8, RepairReplacesMaximalSubparts) {
  EXPECT_TRUE(utf8::is_valid("plain \xC3\xA9 \xF0\x9F\x98\x80"));
  EXPECT_EQ(utf8::repair("a\xFF" "b"), "a\xEF\xBF\xBD" "b");
  EXPECT_EQ(utf8::repair("\xE2\x82 x"), "\xEF\xBF\xBD x");                        // one truncated sequence
  EXPECT_EQ(utf8::repair("\xC0\xAF"), "\xEF\xBF\xBD\xEF\xBF\xBD");                // overlong: two
  EXPECT_EQ(utf8::repair("\xED\xA0\x80"), "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD");  // surrogate: three
  EXPECT_FALSE(utf8::is_valid("\xF4\x90\x80\x80"));                               // above U+10FFFF
}

TEST(ByteLevel, AlphabetIsABijection) {
  std::set<char32_t> seen;
  for (int b = 0; b < 256; ++b) {
    char32_t cp = byte_level::byte_to_codepoint(static_cast<unsigned char>(b));
    EXPECT_EQ(byte_level::codepoint_to_byte(cp), b);
    seen.insert(cp);
  }
  EXPECT_EQ(seen.size(), 256u);
  EXPECT_EQ(byte_level::byte_to_codepoint(' '), U'\u0120');  // 'Ġ'
  EXPECT_EQ(byte_level::byte_to_codepoint('\n'), U'\u010A');  // 'Ċ'
  EXPECT_EQ(byte_level::byte_to_codepoint('A'), U'A');
}

TEST(Tokenizer, MatchesHfGoldenIds) {
  WM_REQUIRE_QWEN3();
  const auto golden = read_json(source_path("tests/fixtures/tokenizer_golden.json"));
  ASSERT_GE(golden.at("encode").size(), 40u);
  for (const auto& c : golden.at("encode")) {
    const std::string text = c.at("text");
    EXPECT_EQ(qwen3().encode(text), c.at("ids").get<std::vector<int32_t>>()) << "text: " << text;
  }
}

TEST(Tokenizer, InvalidUtf8InputIsRepairedLikePythonReplace) {
  WM_REQUIRE_QWEN3();
  const auto golden = read_json(source_path("tests/fixtures/tokenizer_golden.json"));
  for (const auto& c : golden.at("encode_invalid_utf8")) {
    const std::string raw = hex_to_bytes(c.at("bytes_hex"));
    EXPECT_EQ(qwen3().encode(raw), c.at("ids").get<std::vector<int32_t>>()) << c.at("bytes_hex");
  }
}

TEST(Tokenizer, DecodeMatchesHfIncludingInvalidBytes) {
  WM_REQUIRE_QWEN3();
  const auto golden = read_json(source_path("tests/fixtures/tokenizer_golden.json"));
  for (const auto& c : golden.at("decode")) {
    auto ids = c.at("ids").get<std::vector<int32_t>>();
    EXPECT_EQ(qwen3().decode(ids), c.at("text").get<std::string>()) << c.at("ids").dump();
  }
  for (const auto& c : golden.at("encode")) {
    auto ids = c.at("ids").get<std::vector<int32_t>>();
    EXPECT_EQ(qwen3().decode(ids), c.at("decoded").get<std::string>());
  }
}

TEST(Tokenizer, RoundTrip) {
  WM_REQUIRE_QWEN3();
  const auto golden = read_json(source_path("tests/fixtures/tokenizer_golden.json"));
  for (const auto& c : golden.at("encode")) {
    const std::string text = c.at("text");
    std::string expected = text;  // decode(encode(x)) == NFC(x); == x for text already in NFC
    nfc_normalize(text, expected);
    EXPECT_EQ(qwen3().decode(qwen3().encode(text)), expected) << text;
  }
  std::string all_bytes_valid;
  for (char32_t cp = 1; cp < 0x3000; cp += 7) utf8::append(all_bytes_valid, cp);
  std::string expected = all_bytes_valid;
  nfc_normalize(all_bytes_valid, expected);
  EXPECT_EQ(qwen3().decode(qwen3().encode(all_bytes_valid)), expected);
}

TEST(Tokenizer, SpecialTokensAndOffsets) {
  WM_REQUIRE_QWEN3();
  const Tokenizer& tok = qwen3();
  EXPECT_EQ(tok.vocab_size(), 151669);
  EXPECT_EQ(tok.require_token_id("<|im_start|>"), 151644);
  EXPECT_EQ(tok.require_token_id("<|endoftext|>"), 151643);
  EXPECT_TRUE(tok.is_special(151645));
  EXPECT_FALSE(tok.is_special(151667));  // <think> is an added but not special token
  const std::string text = "ab<|im_end|>\n hello";
  std::vector<int32_t> ids;
  std::vector<size_t> starts;
  tok.encode(text, ids, &starts);
  ASSERT_EQ(ids.size(), starts.size());
  for (size_t i = 0; i < ids.size(); ++i) {
    size_t end = i + 1 < ids.size() ? starts[i + 1] : text.size();
    EXPECT_EQ(text.substr(starts[i], end - starts[i]), tok.decode(std::vector<int32_t>{ids[i]}));
  }
  EXPECT_EQ(tok.decode(ids, /*skip_special_tokens=*/true), "ab\n hello");
  EXPECT_THROW(tok.decode(std::vector<int32_t>{tok.vocab_size()}), std::out_of_range);
  EXPECT_THROW(tok.decode(std::vector<int32_t>{-1}), std::out_of_range);
}

TEST(Tokenizer, HeapAndScanMergeLoopsAgree) {
  WM_REQUIRE_QWEN3();
  Tokenizer heap = Tokenizer::from_dir(testing::qwen3_dir());
  Tokenizer scan = Tokenizer::from_dir(testing::qwen3_dir());
  heap.set_bpe_heap_threshold(0);
  scan.set_bpe_heap_threshold(SIZE_MAX);
  const auto golden = read_json(source_path("tests/fixtures/tokenizer_golden.json"));
  for (const auto& c : golden.at("encode")) {
    const std::string text = c.at("text");
    EXPECT_EQ(heap.encode(text), c.at("ids").get<std::vector<int32_t>>()) << text;
  }
  // Long single pieces (letters only) of pseudo-random English-like text, ASCII and accented.
  const std::vector<std::string> letters = {"e", "t", "a", "o", "i", "n", "s", "h", "r", "l", "th", "ing", "\xC3\xA9", "\xC3\xBC"};
  uint64_t state = 12345;
  for (int w = 0; w < 60; ++w) {
    std::string word;
    const int len = 20 + w * 9;
    for (int k = 0; k < len; ++k) {
      state = state * 6364136223846793005ULL + 1442695040888963407ULL;
      word += letters[(state >> 33) % letters.size()];
    }
    EXPECT_EQ(heap.encode(word), scan.encode(word)) << word;
  }
}

TEST(Tokenizer, MissingFileIsAClearError) {
  try {
    Tokenizer::from_dir("/nonexistent/model");
    FAIL() << "expected an exception";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("/nonexistent/model/tokenizer.json"), std::string::npos);
  }
}

}  // namespace
}  // namespace wm
