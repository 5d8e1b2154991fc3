#pragma once

#include <optional>
#include <string_view>

#include "config/table_reader.h"
#include "net/cidr.h"

namespace l4lb::config {

// `key = ["192.0.2.0/24", "2001:db8::/32", "127.0.0.1"]`: each bad entry is reported at its own
// position (key[i]). nullopt when the key is absent or not an array of strings.
[[nodiscard]] std::optional<net::CidrList> readCidrList(TableReader& reader, std::string_view key);

}  // namespace l4lb::config
