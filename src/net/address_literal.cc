#include "net/address_literal.h"

#include <arpa/inet.h>
#include <fmt/format.h>
#include <netinet/in.h>

#include <charconv>
#include <string>

namespace l4lb::net {

namespace {

base::Error literalError(std::string_view text, std::string_view why) {
  return base::failure(
      fmt::format("\"{}\" is not a client address: {} (expected an IP address, "
                  "optionally with a port: 192.0.2.7, 192.0.2.7:5000, "
                  "2001:db8::7, [2001:db8::7]:5000)",
                  text, why));
}

}  // namespace

base::Result<AddressLiteral> parseAddressLiteral(std::string_view text) {
  if (text.empty()) return literalError(text, "it is empty");
  std::string_view host = text;
  std::string_view port_text;
  bool has_port = false;
  if (text.front() == '[') {
    const std::size_t close = text.find(']');
    if (close == std::string_view::npos) return literalError(text, "no ']' after the IPv6 address");
    host = text.substr(1, close - 1);
    const std::string_view rest = text.substr(close + 1);
    if (!rest.empty()) {
      if (rest.front() != ':') return literalError(text, "expected ':PORT' after ']'");
      port_text = rest.substr(1);
      has_port = true;
    }
  } else if (const std::size_t colon = text.find(':');
             colon != std::string_view::npos &&
             text.find(':', colon + 1) == std::string_view::npos) {
    // One colon: IPv4 and a port. More than one: a bare IPv6 address (its port needs brackets).
    host = text.substr(0, colon);
    port_text = text.substr(colon + 1);
    has_port = true;
  }
  AddressLiteral out;
  unsigned port = 0;
  if (has_port) {
    const auto [end, error] =
        std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
    if (port_text.empty() || error != std::errc() || end != port_text.data() + port_text.size() ||
        port < 1 || port > 65535) {
      return literalError(text, "the port must be a number from 1 to 65535");
    }
    out.has_port = true;
  }
  const std::string host_text(host);
  auto* v4 = reinterpret_cast<sockaddr_in*>(&out.addr);
  auto* v6 = reinterpret_cast<sockaddr_in6*>(&out.addr);
  if (text.front() != '[' && ::inet_pton(AF_INET, host_text.c_str(), &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
    v4->sin_port = htons(static_cast<std::uint16_t>(port));
    out.addr_len = sizeof(sockaddr_in);
    return out;
  }
  if (::inet_pton(AF_INET6, host_text.c_str(), &v6->sin6_addr) == 1) {
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons(static_cast<std::uint16_t>(port));
    out.addr_len = sizeof(sockaddr_in6);
    return out;
  }
  constexpr std::string_view kNotAnAddress =
      "not an IPv4 or IPv6 address (host names are not resolved)";
  if (host == text) return literalError(text, kNotAnAddress);
  return literalError(text, fmt::format("\"{}\" is {}", host, kNotAnAddress));
}

}  // namespace l4lb::net
