// Levenshtein distance, used to suggest the nearest valid key for a misspelt one.
#pragma once
#include <string>
#include <string_view>
#include <vector>

namespace wm::config {

size_t edit_distance(std::string_view a, std::string_view b);

// The candidate closest to `word` (ties: first in order); empty when `candidates` is empty.
std::string nearest(std::string_view word, const std::vector<std::string>& candidates);

}  // namespace wm::config
