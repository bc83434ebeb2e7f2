// UTF-8 helpers for the tokenizer: validation, lossy repair (as Rust's String::from_utf8_lossy,
// which HF tokenizers uses when decoding), and code point encoding.
#pragma once
#include <string>
#include <string_view>

namespace wm::utf8 {

// Length of the well-formed sequence starting at s[i], or 0 when it is ill-formed there
// (Unicode table 3-7: no overlongs, no surrogates, nothing above U+10FFFF).
size_t valid_sequence_length(std::string_view s, size_t i);

bool is_valid(std::string_view s);

// Replaces each maximal ill-formed subpart by U+FFFD (the W3C/Unicode "substitution of maximal
// subparts" that both from_utf8_lossy and Python's errors="replace" implement).
std::string repair(std::string_view s);

void append(std::string& out, char32_t cp);

// Decodes the (valid) sequence at s[i]; advances i.
char32_t next(std::string_view s, size_t& i);

}  // namespace wm::utf8
