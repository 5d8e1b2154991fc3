#pragma once

#include <sys/socket.h>

#include <cstdint>
#include <optional>
#include <string_view>

namespace l4lb::balance {

enum class HashKey : std::uint8_t { kClientIp, kClientIpPort };

[[nodiscard]] std::optional<HashKey> parseHashKey(std::string_view name);
[[nodiscard]] std::string_view hashKeyName(HashKey key);

// A hash of the client's address that is the same on every l4lb instance and build (fixed
// function and seed, no per-process randomness), so instances behind ECMP agree on flows.
// Unix-socket clients have no address worth hashing and all hash alike.
[[nodiscard]] std::uint64_t hashClient(const sockaddr* client, HashKey key);

}  // namespace l4lb::balance
