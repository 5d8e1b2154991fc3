#include "net/cidr.h"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <charconv>
#include <cstring>

namespace l4lb::net {

namespace {

constexpr std::array<std::uint8_t, 12> kV4MappedPrefix = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

base::Error cidrError(std::string_view text, std::string_view why) {
  return base::failure("invalid address range \"" + std::string(text) + "\": " + std::string(why));
}

bool isV4Mapped(const std::uint8_t* bytes16) {
  return std::memcmp(bytes16, kV4MappedPrefix.data(), kV4MappedPrefix.size()) == 0;
}

// True when the first `prefix_len` bits of a and b are equal.
bool prefixEqual(const std::uint8_t* a, const std::uint8_t* b, unsigned prefix_len) {
  const unsigned whole = prefix_len / 8;
  if (std::memcmp(a, b, whole) != 0) return false;
  const unsigned rest = prefix_len % 8;
  if (rest == 0) return true;
  const auto mask = static_cast<std::uint8_t>(0xff << (8 - rest));
  return (a[whole] & mask) == (b[whole] & mask);
}

// Clears the bits past the prefix; true when any was set.
bool clearHostBits(Cidr& cidr) {
  const unsigned total = cidr.family == AF_INET ? 32 : 128;
  bool any = false;
  for (unsigned bit = cidr.prefix_len; bit < total; ++bit) {
    const auto mask = static_cast<std::uint8_t>(0x80 >> (bit % 8));
    if ((cidr.bytes[bit / 8] & mask) != 0) {
      any = true;
      cidr.bytes[bit / 8] = static_cast<std::uint8_t>(cidr.bytes[bit / 8] & ~mask);
    }
  }
  return any;
}

}  // namespace

base::Result<Cidr> parseCidr(std::string_view text) {
  const std::size_t slash = text.find('/');
  const std::string_view address = text.substr(0, slash);
  if (address.empty()) return cidrError(text, "missing address");
  char buf[INET6_ADDRSTRLEN + 1] = {};
  if (address.size() >= sizeof(buf)) return cidrError(text, "not an IPv4 or IPv6 address");
  std::memcpy(buf, address.data(), address.size());

  Cidr cidr;
  if (inet_pton(AF_INET, buf, cidr.bytes.data()) == 1) {
    cidr.family = AF_INET;
  } else if (inet_pton(AF_INET6, buf, cidr.bytes.data()) == 1) {
    cidr.family = AF_INET6;
  } else {
    return cidrError(text, "not an IPv4 or IPv6 address (host names are not allowed)");
  }
  const unsigned max_len = cidr.family == AF_INET ? 32 : 128;
  cidr.prefix_len = max_len;
  if (slash != std::string_view::npos) {
    const std::string_view len_text = text.substr(slash + 1);
    unsigned len = 0;
    auto [end, ec] = std::from_chars(len_text.data(), len_text.data() + len_text.size(), len);
    if (len_text.empty() || ec != std::errc() || end != len_text.data() + len_text.size() ||
        len > max_len) {
      return cidrError(text, "prefix length must be a number from 0 to " + std::to_string(max_len));
    }
    cidr.prefix_len = len;
  }
  // ::ffff:a.b.c.d/96+n is a.b.c.d/n: mapped addresses are IPv4 (see the header).
  if (cidr.family == AF_INET6 && cidr.prefix_len >= 96 && isV4Mapped(cidr.bytes.data())) {
    std::memmove(cidr.bytes.data(), cidr.bytes.data() + 12, 4);
    std::memset(cidr.bytes.data() + 4, 0, 12);
    cidr.family = AF_INET;
    cidr.prefix_len -= 96;
  }
  Cidr meant = cidr;
  if (clearHostBits(meant)) {
    return cidrError(
        text, "bits are set past the prefix length; did you mean " + formatCidr(meant) + "?");
  }
  return cidr;
}

std::string formatCidr(const Cidr& cidr) {
  char buf[INET6_ADDRSTRLEN] = {};
  inet_ntop(cidr.family, cidr.bytes.data(), buf, sizeof(buf));
  return std::string(buf) + "/" + std::to_string(cidr.prefix_len);
}

CidrList CidrList::parse(const std::vector<std::string>& texts, std::vector<base::Error>& errors) {
  CidrList list;
  for (const std::string& text : texts) {
    auto parsed = parseCidr(text);
    if (!parsed) {
      errors.push_back(parsed.error());
    } else {
      list.add(*parsed);
    }
  }
  return list;
}

void CidrList::add(const Cidr& cidr) { ranges_.push_back(cidr); }

bool CidrList::contains(const sockaddr* address, socklen_t len) const {
  if (address == nullptr) return false;
  int family = address->sa_family;
  const std::uint8_t* bytes = nullptr;
  if (family == AF_INET && len >= sizeof(sockaddr_in)) {
    bytes = reinterpret_cast<const std::uint8_t*>(
        &reinterpret_cast<const sockaddr_in*>(address)->sin_addr);
  } else if (family == AF_INET6 && len >= sizeof(sockaddr_in6)) {
    bytes = reinterpret_cast<const sockaddr_in6*>(address)->sin6_addr.s6_addr;
    if (isV4Mapped(bytes)) {
      family = AF_INET;
      bytes += 12;
    }
  } else {
    return false;
  }
  for (const Cidr& range : ranges_) {
    if (range.family == family && prefixEqual(range.bytes.data(), bytes, range.prefix_len)) {
      return true;
    }
  }
  return false;
}

}  // namespace l4lb::net
