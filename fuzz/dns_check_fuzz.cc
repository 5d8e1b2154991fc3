// libFuzzer target for the dns check (proto/dns_check.h). Input: one byte giving the name's
// length, two bytes of query id, the name, then the reply datagram. Properties, beyond not
// crashing:
// - a name encodeDnsName accepts has a well-formed wire form (labels of 1 to 63 bytes ending
//   in the root, at most 255 bytes) that spells the same labels;
// - the reply to a query is judged without ever asking for more (each datagram is whole), and
//   up only when its id, QR bit, RCODE and question agree with the query;
// - a query read back as its own reply is down (an echo server is not a DNS server).

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "proto/dns_check.h"

namespace {

using l4lb::proto::CheckStatus;

void checkWireName(std::string_view name, const std::string& wire) {
  if (wire.empty() || wire.size() > 255 || wire.back() != '\0') std::abort();
  std::string spelled;
  std::size_t at = 0;
  while (wire[at] != '\0') {
    const std::size_t length = static_cast<std::uint8_t>(wire[at]);
    if (length > 63 || at + 1 + length >= wire.size()) std::abort();
    if (!spelled.empty()) spelled += '.';
    spelled.append(wire, at + 1, length);
    at += 1 + length;
  }
  if (at + 1 != wire.size()) std::abort();
  if (name.size() > 1 && name.back() == '.') name.remove_suffix(1);
  if (spelled != name && !(spelled.empty() && name == ".")) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 3 || size > 4096) return 0;
  const auto id = static_cast<std::uint16_t>(data[1] << 8 | data[2]);
  std::string_view input(reinterpret_cast<const char*>(data + 3), size - 3);
  const std::size_t split = data[0] < input.size() ? data[0] : input.size();
  const std::string_view name = input.substr(0, split);
  const std::string_view reply = input.substr(split);

  const auto wire = l4lb::proto::encodeDnsName(name);
  if (wire) {
    checkWireName(name, *wire);
  } else if (wire.error().message().empty()) {
    std::abort();
  }
  const std::string query = l4lb::proto::dnsQuery(id, wire.valueOr(std::string(1, '\0')), 1);
  const auto verdict = l4lb::proto::parseDnsReply(reply, query);
  if (verdict.status == CheckStatus::kNeedMore || verdict.reason.empty()) std::abort();
  if (verdict.status == CheckStatus::kUp) {
    const auto byte = [&](std::size_t i) { return static_cast<std::uint8_t>(reply[i]); };
    if (reply.size() < query.size() || reply.substr(0, 2) != query.substr(0, 2) ||
        (byte(2) & 0x80) == 0 || (byte(3) & 0x0f) != 0) {
      std::abort();
    }
  }
  if (l4lb::proto::parseDnsReply(query, query).status != CheckStatus::kDown) std::abort();
  return 0;
}
