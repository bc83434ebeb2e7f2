// Unicode NFC normalisation (the Qwen3 tokenizer.json's "normalizer": {"type": "NFC"}), done by
// ICU (Debian's libicu-dev). Text whose bytes are all below 0xCC (code points below U+0300, none of
// which composes or reorders) is returned as is without calling ICU.
#pragma once
#include <string>
#include <string_view>

namespace wm {

// in: valid UTF-8. Returns true and fills `out` when normalisation changed the text; returns false
// (and leaves `out` alone) when `in` is already NFC.
bool nfc_normalize(std::string_view in, std::string& out);

}  // namespace wm
