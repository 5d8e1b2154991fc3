#include "proto/dns_check.h"

#include <fmt/format.h>

#include <array>
#include <cctype>

#include "proto/wire_read.h"

namespace l4lb::proto {

namespace {

constexpr std::size_t kDnsHeader = 12;
constexpr std::size_t kMaxLabel = 63;
constexpr std::size_t kMaxName = 255;  // wire form, RFC 1035 2.3.4
constexpr std::uint16_t kClassIn = 1;

struct TypeName {
  std::uint16_t type;
  std::string_view name;
};

constexpr std::array<TypeName, 11> kTypes = {{{1, "A"},
                                              {2, "NS"},
                                              {5, "CNAME"},
                                              {6, "SOA"},
                                              {12, "PTR"},
                                              {15, "MX"},
                                              {16, "TXT"},
                                              {28, "AAAA"},
                                              {33, "SRV"},
                                              {48, "DNSKEY"},
                                              {257, "CAA"}}};

bool equalsIgnoringCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(a[i])) !=
        std::tolower(static_cast<unsigned char>(b[i]))) {
      return false;
    }
  }
  return true;
}

}  // namespace

std::optional<std::uint16_t> dnsTypeFromName(std::string_view name) {
  for (const TypeName& entry : kTypes) {
    if (equalsIgnoringCase(entry.name, name)) return entry.type;
  }
  return std::nullopt;
}

std::string_view dnsTypeName(std::uint16_t type) {
  for (const TypeName& entry : kTypes) {
    if (entry.type == type) return entry.name;
  }
  return "unknown";
}

std::string_view dnsRcodeName(std::uint8_t rcode) {
  static constexpr std::array<std::string_view, 11> kNames = {
      "NOERROR",  "FORMERR", "SERVFAIL", "NXDOMAIN", "NOTIMP", "REFUSED",
      "YXDOMAIN", "YXRRSET", "NXRRSET",  "NOTAUTH",  "NOTZONE"};
  return rcode < kNames.size() ? kNames[rcode] : "unknown";
}

base::Result<std::string> encodeDnsName(std::string_view name) {
  if (name.empty()) {
    return base::failure("an empty name (the root is \".\")");
  }
  std::string wire;
  if (name != ".") {
    if (name.back() == '.') name.remove_suffix(1);
    while (true) {
      const std::size_t dot = name.find('.');
      const std::string_view label = name.substr(0, dot);
      if (label.empty()) {
        return base::failure("an empty label (two dots in a row, or a leading dot)");
      }
      if (label.size() > kMaxLabel) {
        return base::failure(
            fmt::format("a label of {} bytes (at most {})", label.size(), kMaxLabel));
      }
      wire.push_back(static_cast<char>(label.size()));
      wire.append(label);
      if (dot == std::string_view::npos) break;
      name.remove_prefix(dot + 1);
    }
  }
  wire.push_back('\0');
  if (wire.size() > kMaxName) {
    return base::failure(fmt::format("longer than {} bytes in wire form", kMaxName));
  }
  return wire;
}

std::string dnsQuery(std::uint16_t id, std::string_view wire_name, std::uint16_t type) {
  std::string query;
  query.reserve(kDnsHeader + wire_name.size() + 4);
  query.push_back(static_cast<char>(id >> 8));
  query.push_back(static_cast<char>(id & 0xff));
  // Flags: a standard query (opcode 0) with RD set; one question, no other records.
  query.append(std::string_view("\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00", 10));
  query.append(wire_name);
  query.push_back(static_cast<char>(type >> 8));
  query.push_back(static_cast<char>(type & 0xff));
  query.push_back(static_cast<char>(kClassIn >> 8));
  query.push_back(static_cast<char>(kClassIn & 0xff));
  return query;
}

CheckVerdict parseDnsReply(std::string_view reply, std::string_view query) {
  if (reply.size() < kDnsHeader) {
    return CheckVerdict::down(fmt::format("not DNS: a datagram of {} bytes", reply.size()));
  }
  if (reply.substr(0, 2) != query.substr(0, 2)) {
    return CheckVerdict::down(
        fmt::format("not DNS, or not the reply: id 0x{:04x} instead of 0x{:04x}", read16(reply, 0),
                    read16(query, 0)));
  }
  const auto flags = static_cast<std::uint8_t>(reply[2]);
  if ((flags & 0x80) == 0) return CheckVerdict::down("not a reply: the query came back (QR clear)");
  const unsigned opcode = (flags >> 3) & 0x0f;
  if (opcode != 0) return CheckVerdict::down(fmt::format("a reply to opcode {}", opcode));
  const auto rcode = static_cast<std::uint8_t>(static_cast<std::uint8_t>(reply[3]) & 0x0f);
  // A reply of ours repeats the question; servers refusing a query may leave it out.
  const std::string_view question = query.substr(kDnsHeader);
  const std::size_t questions = read16(reply, 4);
  if (questions == 1) {
    if (!equalsIgnoringCase(reply.substr(kDnsHeader, question.size()), question)) {
      return CheckVerdict::down("a reply to another question");
    }
  } else if (questions != 0 || rcode == 0) {
    return CheckVerdict::down(fmt::format("a reply with {} questions", questions));
  }
  if (rcode != 0) {
    return CheckVerdict::down(fmt::format("rcode {}", dnsRcodeName(rcode) == "unknown"
                                                          ? std::to_string(rcode)
                                                          : std::string(dnsRcodeName(rcode))));
  }
  const std::size_t answers = read16(reply, 6);
  return CheckVerdict::up(fmt::format("NOERROR, {} answer{}{}", answers, answers == 1 ? "" : "s",
                                      (flags & 0x02) != 0 ? " (truncated)" : ""));
}

}  // namespace l4lb::proto
