#pragma once

#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace l4lb::config {

// Edit distance where a swap of two neighbouring characters counts as one edit ("pol" and "plo"
// are as close as "pol" and "pool"), the typos people actually make in keys.
[[nodiscard]] std::size_t editDistance(std::string_view a, std::string_view b);

// The candidate closest to `word` if it is within two edits (and not a rewrite of a short word),
// for "did you mean ...?".
[[nodiscard]] std::optional<std::string_view> closestMatch(
    std::string_view word, std::span<const std::string_view> candidates);

// ` (did you mean "x"?)` or "" when nothing is close.
[[nodiscard]] std::string didYouMean(std::string_view word,
                                     std::span<const std::string_view> candidates);

// `"a", "b" or "c"`.
[[nodiscard]] std::string quotedList(std::span<const std::string_view> words);

// A value quoted for an error message: control bytes escaped, long text cut short, so a
// malformed file cannot garble the terminal or the log.
[[nodiscard]] std::string quoteText(std::string_view text);

}  // namespace l4lb::config
