#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>
#include <utility>

namespace l4lb::fuzz {

// Cut points chosen by the input itself (a hash of all of it), so a finding replays exactly and
// every input is also tried split across reads at places no seed names.
struct SplitPoints {
  std::size_t first = 0;
  std::size_t second = 0;  // first <= second <= size
};

inline SplitPoints splitPoints(std::string_view data) {
  std::uint64_t hash = 14695981039346656037ull;  // FNV-1a
  for (const char c : data) hash = (hash ^ static_cast<std::uint8_t>(c)) * 1099511628211ull;
  const std::size_t range = data.size() + 1;
  std::size_t a = static_cast<std::size_t>(hash % range);
  std::size_t b = static_cast<std::size_t>((hash >> 32) % range);
  if (a > b) std::swap(a, b);
  return {a, b};
}

}  // namespace l4lb::fuzz
