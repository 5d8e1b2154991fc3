#pragma once

#include <sys/socket.h>

#include <string_view>

#include "base/result.h"

namespace l4lb::net {

// An IP address as an operator types one, with or without a port: "192.0.2.7",
// "192.0.2.7:5000", "2001:db8::7", "[2001:db8::7]", "[2001:db8::7]:5000". Literals only: nothing
// is resolved, so parsing never blocks (the admin API parses clients with it).
struct AddressLiteral {
  sockaddr_storage addr{};  // port 0 when none was given
  socklen_t addr_len = 0;
  bool has_port = false;

  [[nodiscard]] const sockaddr* sockaddrPtr() const {
    return reinterpret_cast<const sockaddr*>(&addr);
  }
};

// The error says what was wrong with `text` and what is expected.
[[nodiscard]] base::Result<AddressLiteral> parseAddressLiteral(std::string_view text);

}  // namespace l4lb::net
