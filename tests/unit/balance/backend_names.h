#pragma once

#include <cstddef>
#include <string>
#include <vector>

namespace l4lb::balance {

// Names for a pool of n backends in a test: b0, b1, ...
inline std::vector<std::string> backendNames(std::size_t n) {
  std::vector<std::string> out;
  for (std::size_t i = 0; i < n; ++i) out.push_back("b" + std::to_string(i));
  return out;
}

}  // namespace l4lb::balance
