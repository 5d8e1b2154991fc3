// libFuzzer target for upgrade::decodeHandoff (upgrade/handoff_message.h): what a binary upgrade
// receives from the other process. Properties: no crash or overread; whatever decodes encodes
// back to the same bytes (one wire form per message), and the descriptor count stays bounded.

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <span>
#include <string_view>

#include "upgrade/handoff_message.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const auto bytes = std::as_bytes(std::span(data, size));
  auto decoded = l4lb::upgrade::decodeHandoff(bytes);
  if (!decoded) {
    if (decoded.error().message().empty()) std::abort();
    return 0;
  }
  const auto& message = *decoded;
  const std::string wire = l4lb::upgrade::encodeHandoff(message);
  if (std::string_view(reinterpret_cast<const char*>(data), size) != wire) std::abort();
  // Client, backend, and both ends of each direction's pipe.
  if (l4lb::upgrade::handoffFdCount(message) > 6) std::abort();
  return 0;
}
