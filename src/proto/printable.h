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

// `text` (a check's reason, quoting what a server sent) with every appearance of `secret` (a
// password the check sends) replaced by "<redacted>": as sent, as printable() writes it, and a
// beginning of it that printable() cut at its limit ("..."), so a server that echoes its input
// puts no password in the log or the API.
[[nodiscard]] std::string redactSecret(std::string text, std::string_view secret);

}  // namespace l4lb::proto
