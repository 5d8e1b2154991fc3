#include "config/read_retry_on.h"

#include <fmt/format.h>

#include "config/config.h"
#include "config/suggest.h"

namespace l4lb::config {

std::optional<RetryOn> parseRetryOn(std::string_view text) {
  if (text == "conn-failure") return kRetryConnFailure;
  if (text == "empty-response") return kRetryEmptyResponse;
  if (text == "refused-greeting") return kRetryRefusedGreeting;
  return std::nullopt;
}

const std::vector<std::string_view>& retryOnNames() {
  static const std::vector<std::string_view> names = {"conn-failure", "empty-response",
                                                      "refused-greeting"};
  return names;
}

std::optional<std::uint8_t> readRetryOn(TableReader& reader) {
  constexpr std::string_view kKey = "retry_on";
  if (!reader.has(kKey)) return std::nullopt;
  const toml::array* items =
      reader.array(kKey, R"(an array like ["conn-failure", "empty-response", "refused-greeting"])");
  if (items == nullptr) return std::nullopt;
  const Origin origin = reader.originOf(kKey);
  const auto& names = retryOnNames();
  std::uint8_t flags = 0;
  bool ok = true;
  for (std::size_t i = 0; i < items->size(); ++i) {
    const toml::node& item = *items->get(i);
    const Origin at{indexKey(origin.key, i), positionOf(item.source())};
    const auto* text = item.as_string();
    std::optional<RetryOn> value;
    if (text != nullptr) value = parseRetryOn(text->get());
    if (!value) {
      const std::string got = text != nullptr ? quoteText(text->get()) : describe(item);
      reader.errors().add(at, fmt::format("invalid value {}: expected {}{}", got, quotedList(names),
                                          text != nullptr ? didYouMean(text->get(), names) : ""));
      ok = false;
      continue;
    }
    flags |= *value;
  }
  if (!ok) return std::nullopt;
  return flags;
}

}  // namespace l4lb::config
