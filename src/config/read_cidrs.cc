#include "config/read_cidrs.h"

#include <fmt/format.h>

namespace l4lb::config {

std::optional<net::CidrList> readCidrList(TableReader& reader, std::string_view key) {
  if (!reader.has(key)) return std::nullopt;
  const toml::array* items =
      reader.array(key, R"(an array of address ranges like ["192.0.2.0/24", "2001:db8::/32"])");
  if (items == nullptr) return std::nullopt;
  const Origin origin = reader.originOf(key);
  net::CidrList list;
  for (std::size_t i = 0; i < items->size(); ++i) {
    const toml::node& item = *items->get(i);
    const Origin at{indexKey(origin.key, i), positionOf(item.source())};
    const auto* text = item.as_string();
    if (text == nullptr) {
      reader.errors().add(at, fmt::format("expected an address range like \"192.0.2.0/24\", got {}",
                                          describe(item)));
      continue;
    }
    auto parsed = net::parseCidr(text->get());
    if (!parsed) {
      reader.errors().add(at, parsed.error().message());
      continue;
    }
    list.add(*parsed);
  }
  return list;
}

}  // namespace l4lb::config
