#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "proto/check_reply.h"

// The health checks of datagram pools (dns, udp) as pure decisions: what datagram to send, and
// the verdict on the first datagram that comes back, or on silence until the check's timeout.
// A send or receive the socket refuses (ICMP port unreachable) or fails is the probe's to
// report: always down. No I/O here, so each check is unit-tested on bytes.
namespace l4lb::proto {

class DatagramDialog {
 public:
  virtual ~DatagramDialog() = default;
  DatagramDialog() = default;
  DatagramDialog(const DatagramDialog&) = delete;
  DatagramDialog& operator=(const DatagramDialog&) = delete;

  // The one datagram a check sends (may be empty: a 0-byte datagram).
  [[nodiscard]] virtual const std::string& request() const = 0;
  // The first datagram received on the check's socket. Never "need more": a datagram is whole,
  // and the check's socket is fresh (its own source port), so whatever comes is the answer.
  [[nodiscard]] virtual CheckVerdict onReply(std::string_view reply) const = 0;
  // Nothing came back (and nothing was refused) for `waited_ms`.
  [[nodiscard]] virtual CheckVerdict onSilence(std::int64_t waited_ms) const = 0;
};

// dns: a query for `wire_name` (encodeDnsName) and `type`, answered NOERROR (parseDnsReply);
// silence is down.
[[nodiscard]] std::unique_ptr<DatagramDialog> makeDnsDialog(std::uint16_t id,
                                                            std::string_view wire_name,
                                                            std::uint16_t type);

// udp: sends `send`. With `expect`, the reply must start with it, and silence is down. Without
// (a backend that never answers: syslog, statsd), the check only listens for a refusal: any
// reply, or silence until the timeout, is up.
[[nodiscard]] std::unique_ptr<DatagramDialog> makeUdpDialog(std::string send,
                                                            std::optional<std::string> expect);

}  // namespace l4lb::proto
