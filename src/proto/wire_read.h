#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace l4lb::proto {

// Unchecked network-order reads for parsers that have checked the length already.
[[nodiscard]] inline std::uint8_t byteAt(std::string_view data, std::size_t at) {
  return static_cast<std::uint8_t>(data[at]);
}
[[nodiscard]] inline std::size_t read16(std::string_view data, std::size_t at) {
  return (std::size_t{byteAt(data, at)} << 8) | byteAt(data, at + 1);
}

}  // namespace l4lb::proto
