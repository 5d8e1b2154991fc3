#pragma once

#include <atomic>
#include <cstdint>
#include <string>
#include <string_view>

#include "base/fd.h"
#include "base/result.h"
#include "net/endpoint.h"

namespace l4lb::proxy {

// The access log's syslog target: each line one datagram to a unixgram:// socket (/dev/log) or
// a udp:// address, in RFC 3164 framing ("<134>Dec  5 07:50:01 host l4lb[42]: {...}"; the host
// is left out towards a local socket, as syslog(3) does), which rsyslog, syslog-ng and
// journald all read. Shared by every worker: one sendto(2) per line on a non-blocking socket,
// no lock. A line the receiver has no room for is dropped and counted, never waited for: a
// stalled syslog daemon must not stall the data path.
class SyslogSink {
 public:
  // `facility`: 0..23 (16 = local0); `tag`: the program name the daemon files lines under.
  [[nodiscard]] static base::Result<SyslogSink> open(const net::Endpoint& address, int facility,
                                                     std::string tag);

  SyslogSink(SyslogSink&& other) noexcept;
  SyslogSink& operator=(SyslogSink&&) = delete;
  SyslogSink(const SyslogSink&) = delete;
  SyslogSink& operator=(const SyslogSink&) = delete;
  ~SyslogSink() = default;

  // Sends one line (its trailing newline left out) at severity info.
  void send(std::string_view line) const;
  // Lines dropped: the socket had no room, or the receiver was not there.
  [[nodiscard]] std::uint64_t dropped() const { return dropped_.load(std::memory_order_relaxed); }

  // The header before the message, for `now` (seconds since the epoch, local time): PRI,
  // timestamp, host (udp only) and tag with the pid.
  [[nodiscard]] std::string header(std::int64_t now) const;

 private:
  SyslogSink() = default;

  base::Fd fd_;
  net::Endpoint address_;
  std::string after_time_;  // " host tag[pid]: " or " tag[pid]: "
  int priority_ = 0;
  mutable std::atomic<std::uint64_t> dropped_{0};
};

}  // namespace l4lb::proxy
