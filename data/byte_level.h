// The GPT-2 byte-level alphabet: each of the 256 byte values is shown as one printable code point
// (printable Latin-1 bytes as themselves, the others as U+0100 + k), so that BPE vocab entries are
// text. tokenizer.json stores tokens in this alphabet; wemask converts them to raw bytes once.
#pragma once
#include <string>
#include <string_view>

namespace wm::byte_level {

char32_t byte_to_codepoint(unsigned char b);

// The byte a code point of the alphabet stands for, or -1 when it is not in the alphabet.
int codepoint_to_byte(char32_t cp);

// Maps a token written in the alphabet to its raw bytes; false when a character is outside it.
bool decode_token(std::string_view token_utf8, std::string& bytes_out);

}  // namespace wm::byte_level
