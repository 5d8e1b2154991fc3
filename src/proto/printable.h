#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace l4lb::proto {

// What a log line quotes of a server's text, unless the caller says less.
inline constexpr std::size_t kLogTextLimit = 160;

// Bytes a server sent, made safe for one log line: printable ASCII kept, CR and LF as \r and
// \n, every other byte as \xNN; past `limit` bytes the rest becomes "...".
[[nodiscard]] std::string printable(std::string_view text, std::size_t limit = kLogTextLimit);

}  // namespace l4lb::proto
