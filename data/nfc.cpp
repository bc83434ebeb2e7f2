#include "data/nfc.h"

#include <stdexcept>

#include <unicode/bytestream.h>
#include <unicode/normalizer2.h>
#include <unicode/stringpiece.h>

namespace wm {

namespace {

const icu::Normalizer2& nfc_instance() {
  UErrorCode status = U_ZERO_ERROR;
  const icu::Normalizer2* n = icu::Normalizer2::getNFCInstance(status);
  if (U_FAILURE(status) || n == nullptr)
    throw std::runtime_error(std::string("ICU: cannot get the NFC normaliser: ") + u_errorName(status));
  return *n;
}

}  // namespace

bool nfc_normalize(std::string_view in, std::string& out) {
  bool all_below_u0300 = true;
  for (char c : in) {
    if (static_cast<unsigned char>(c) >= 0xCC) {
      all_below_u0300 = false;
      break;
    }
  }
  if (all_below_u0300) return false;
  static const icu::Normalizer2& nfc = nfc_instance();
  UErrorCode status = U_ZERO_ERROR;
  icu::StringPiece piece(in.data(), static_cast<int32_t>(in.size()));
  if (nfc.isNormalizedUTF8(piece, status) && U_SUCCESS(status)) return false;
  status = U_ZERO_ERROR;
  std::string result;
  icu::StringByteSink<std::string> sink(&result, static_cast<int32_t>(in.size()));
  nfc.normalizeUTF8(0, piece, sink, nullptr, status);
  if (U_FAILURE(status)) throw std::runtime_error(std::string("ICU NFC normalisation failed: ") + u_errorName(status));
  out = std::move(result);
  return true;
}

}  // namespace wm
