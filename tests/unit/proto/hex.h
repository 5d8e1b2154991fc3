#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace l4lb::proto {

// Bytes from a hex string, as recorded captures and RFC test vectors are written.
inline std::string fromHex(std::string_view hex) {
  std::string out;
  for (std::size_t i = 0; i + 1 < hex.size(); i += 2) {
    out.push_back(static_cast<char>(std::stoi(std::string(hex.substr(i, 2)), nullptr, 16)));
  }
  return out;
}

}  // namespace l4lb::proto
