#include "data/byte_level.h"

#include <array>

#include "data/utf8.h"

namespace wm::byte_level {

namespace {

bool printable(int b) { return (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF); }

struct Tables {
  std::array<char32_t, 256> to_cp{};
  std::array<int, 512> from_cp{};  // every code point of the alphabet is below U+0144
  Tables() {
    from_cp.fill(-1);
    int extra = 0;
    for (int b = 0; b < 256; ++b) {
      char32_t cp = printable(b) ? static_cast<char32_t>(b) : static_cast<char32_t>(256 + extra++);
      to_cp[b] = cp;
      from_cp[cp] = b;
    }
  }
};

const Tables& tables() {
  static const Tables t;
  return t;
}

}  // namespace

char32_t byte_to_codepoint(unsigned char b) { return tables().to_cp[b]; }

int codepoint_to_byte(char32_t cp) { return cp < 512 ? tables().from_cp[cp] : -1; }

bool decode_token(std::string_view token, std::string& out) {
  out.clear();
  size_t i = 0;
  while (i < token.size()) {
    if (utf8::valid_sequence_length(token, i) == 0) return false;
    int b = codepoint_to_byte(utf8::next(token, i));
    if (b < 0) return false;
    out.push_back(static_cast<char>(b));
  }
  return true;
}

}  // namespace wm::byte_level
