#include "data/hash.h"

#include <cstdio>
#include <fstream>
#include <stdexcept>
#include <vector>

namespace wm {

std::string hex64(uint64_t v) {
  char buf[17];
  std::snprintf(buf, sizeof(buf), "%016llx", static_cast<unsigned long long>(v));
  return buf;
}

std::string Fnv1a64::hex() const { return hex64(state_); }

uint64_t hash_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot open " + path);
  Fnv1a64 h;
  std::vector<char> buf(1 << 20);
  while (in) {
    in.read(buf.data(), static_cast<std::streamsize>(buf.size()));
    h.add(std::string_view(buf.data(), static_cast<size_t>(in.gcount())));
  }
  return h.value();
}

}  // namespace wm
