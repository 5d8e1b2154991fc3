#include "proxy/syslog_sink.h"

#include <fmt/format.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <array>
#include <ctime>

namespace l4lb::proxy {

namespace {

constexpr int kSeverityInfo = 6;
constexpr std::array<std::string_view, 12> kMonths = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                                      "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

}  // namespace

base::Result<SyslogSink> SyslogSink::open(const net::Endpoint& address, int facility,
                                          std::string tag) {
  SyslogSink sink;
  sink.fd_ = base::Fd(::socket(address.family(), SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (!sink.fd_) return base::lastError("socket for the syslog access log");
  sink.address_ = address;
  sink.priority_ = facility * 8 + kSeverityInfo;
  std::string host;
  if (address.kind == net::EndpointKind::kUdp) {
    // Over the network the receiver needs to know who sent it (RFC 3164 4.1.2).
    std::array<char, 256> name{};
    if (::gethostname(name.data(), name.size() - 1) == 0 && name[0] != '\0') {
      host = std::string(name.data()) + " ";
    } else {
      host = "- ";
    }
  }
  sink.after_time_ = fmt::format(" {}{}[{}]: ", host, tag, ::getpid());
  return sink;
}

SyslogSink::SyslogSink(SyslogSink&& other) noexcept
    : fd_(std::move(other.fd_)),
      address_(std::move(other.address_)),
      after_time_(std::move(other.after_time_)),
      priority_(other.priority_),
      dropped_(other.dropped()) {}

std::string SyslogSink::header(std::int64_t now) const {
  const auto secs = static_cast<std::time_t>(now);
  std::tm tm{};
  localtime_r(&secs, &tm);
  // "Mmm dd hh:mm:ss", the day padded with a space.
  return fmt::format("<{}>{} {:2} {:02}:{:02}:{:02}{}", priority_, kMonths[tm.tm_mon % 12],
                     tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, after_time_);
}

void SyslogSink::send(std::string_view line) const {
  if (!line.empty() && line.back() == '\n') line.remove_suffix(1);
  const std::string head = header(static_cast<std::int64_t>(std::time(nullptr)));
  std::array<iovec, 2> parts = {
      iovec{const_cast<char*>(head.data()), head.size()},
      iovec{const_cast<char*>(line.data()), line.size()},
  };
  msghdr message{};
  message.msg_name = const_cast<sockaddr*>(address_.sockaddrPtr());
  message.msg_namelen = address_.addr_len;
  message.msg_iov = parts.data();
  message.msg_iovlen = parts.size();
  // Never waits: EAGAIN (the receiver's queue is full), ECONNREFUSED or ENOENT (no daemon
  // listening): the line is dropped and counted.
  if (::sendmsg(fd_.get(), &message, MSG_DONTWAIT | MSG_NOSIGNAL) < 0) {
    dropped_.fetch_add(1, std::memory_order_relaxed);
  }
}

}  // namespace l4lb::proxy
