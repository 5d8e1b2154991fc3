#pragma once

#include <chrono>
#include <cstdint>
#include <string_view>
#include <vector>

#include "base/duration.h"

namespace l4lb::config {

// Bounds on config values, shared by the file reader and the command-line quick mode.
inline constexpr std::int64_t kMaxWorkers = 1024;
// Polling longer than a millisecond after work is just burning a core.
inline constexpr std::int64_t kMaxBusyPollMicros = 1000;
inline constexpr std::int64_t kMaxWeight = 10'000;
// A connection records each backend it tried (proxy::Session), so attempts are bounded.
inline constexpr std::int64_t kMaxRetries = 15;
// Connections waiting for a backend slot, per pool: each holds a client descriptor.
inline constexpr std::int64_t kMaxQueue = 1'000'000;
// Each worker holds a copy of each maglev table; 2^24 slots is already 64 MiB of them.
inline constexpr std::int64_t kMaxMaglevTableSize = 1 << 24;
// Flows per listener and worker; each costs about 250 bytes once the table has grown to it.
inline constexpr std::int64_t kMaxFlows = 1 << 24;
inline constexpr std::int64_t kMaxConnections = 10'000'000;
inline constexpr std::int64_t kMaxResponses = 1'000'000;
// announce_min_backends: more backends than any pool is written with.
inline constexpr std::int64_t kMaxAnnounceMinBackends = 100'000;
// A POSIX message queue's limits; a message must also fit one receive slot (64 KiB).
inline constexpr std::int64_t kMaxQueueMessages = 65'536;
inline constexpr std::int64_t kMaxQueueMessageSize = 65'536;
// Long enough for any real timeout, short enough that converting to nanoseconds for a timer
// cannot overflow.
inline constexpr base::Duration kMaxDuration = std::chrono::hours(24 * 365);

// The words each enum accepts, in the order they are listed in error messages.
[[nodiscard]] const std::vector<std::string_view>& algorithmNames();
[[nodiscard]] const std::vector<std::string_view>& hashKeyNames();
[[nodiscard]] const std::vector<std::string_view>& logLevelNames();

}  // namespace l4lb::config
