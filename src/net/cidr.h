#pragma once

#include <sys/socket.h>

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"

// Address ranges for allow/deny and proxy_trusted lists: "192.0.2.0/24", "2001:db8::/32", or a
// bare address (a /32 or /128).
//
// IPv4-mapped IPv6 (::ffff:a.b.c.d) is IPv4 here, on both sides: a client accepted on a
// dual-stack IPv6 socket as ::ffff:127.0.0.2 matches "127.0.0.0/8", and a rule written as
// "::ffff:192.0.2.0/120" is the rule "192.0.2.0/24". Other IPv6 rules never match IPv4 clients
// ("::/0" is every IPv6 client, not every client). Unix-socket peers have no address and match
// no range.
namespace l4lb::net {

struct Cidr {
  int family = AF_INET;                  // AF_INET or AF_INET6
  std::array<std::uint8_t, 16> bytes{};  // network order; IPv4 in the first 4
  unsigned prefix_len = 0;               // 0..32 or 0..128

  [[nodiscard]] bool operator==(const Cidr&) const = default;
};

// Parses one range. Bits set past the prefix ("192.0.2.1/24") are an error naming the range
// that was probably meant, as is anything that is not an IP literal (no host names).
[[nodiscard]] base::Result<Cidr> parseCidr(std::string_view text);

// "192.0.2.0/24", "2001:db8::/32": the canonical form, always with the prefix length.
[[nodiscard]] std::string formatCidr(const Cidr& cidr);

// An ordered list of ranges; contains() answers whether any of them holds an address.
class CidrList {
 public:
  CidrList() = default;

  // Parses every entry; each bad one adds an error (in order) and is left out.
  static CidrList parse(const std::vector<std::string>& texts, std::vector<base::Error>& errors);

  void add(const Cidr& cidr);
  [[nodiscard]] bool contains(const sockaddr* address, socklen_t len) const;
  [[nodiscard]] bool empty() const { return ranges_.empty(); }
  [[nodiscard]] std::size_t size() const { return ranges_.size(); }
  [[nodiscard]] const std::vector<Cidr>& ranges() const { return ranges_; }

 private:
  std::vector<Cidr> ranges_;
};

}  // namespace l4lb::net
