#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>

#include "base/fd.h"
#include "base/result.h"
#include "net/endpoint.h"
#include "proxy/end_reason.h"
#include "proxy/syslog_sink.h"

namespace l4lb::proxy {

// One backend attempt of a connection that failed, and why (errno).
struct FailedAttempt {
  std::string_view backend;
  int error = 0;
};

// What the access log records of one finished connection.
struct AccessRecord {
  std::string_view listener;
  std::string_view client;
  std::string_view backend;     // empty when none was connected
  std::string_view pool;        // the listener's, or the one a route chose
  std::string_view sni;         // the ClientHello's server name (routing listeners); empty: none
  std::uint64_t bytes_in = 0;   // client -> backend
  std::uint64_t bytes_out = 0;  // backend -> client
  std::int64_t duration_ms = 0;
  // HAProxy's Tc: from the first connect attempt to the backend connected, retries included.
  std::int64_t connect_ms = -1;  // -1: never connected
  // HAProxy's Tr for a stream: from connected to the backend's first byte.
  std::int64_t first_byte_ms = -1;  // -1: the backend sent nothing
  std::uint32_t attempts = 0;
  std::span<const FailedAttempt> failed;  // in the order tried, at most retries + 1
  EndReason end = EndReason::kCompleted;
};

// One JSON line per finished connection, to stderr, a file opened for appending, or syslog.
// Shared by all workers: each line is a single write(2) to an O_APPEND descriptor, or one
// datagram to syslog (SyslogSink), so lines never interleave and no lock is needed.
class AccessLog {
 public:
  AccessLog() = default;  // off

  // target: "off", "stderr" or a file path.
  [[nodiscard]] static base::Result<AccessLog> open(const std::string& target);
  // To syslog at `address` (unixgram:// or udp://): see SyslogSink.
  [[nodiscard]] static base::Result<AccessLog> openSyslog(const net::Endpoint& address,
                                                          int facility, std::string tag);

  [[nodiscard]] bool enabled() const { return fd_ >= 0 || syslog_ != nullptr; }
  // Lines lost: syslog had no room for them, or a write to the file (or stderr) failed or was
  // cut short (a full disk). Counted, never waited for: serving goes on.
  [[nodiscard]] std::uint64_t dropped() const {
    if (syslog_) return syslog_->dropped();
    return write_loss_ ? write_loss_->dropped.load(std::memory_order_relaxed) : 0;
  }

  // logrotate's "create" mode: the file was renamed away; open the path anew and make the
  // descriptor the workers write to point at the new file. The swap is one dup2(2), so a line
  // being written goes wholly to one file or the other, and workers never see a change.
  // Nothing to do when logging to stderr or off.
  [[nodiscard]] base::Result<bool> reopen();
  void write(const AccessRecord& record) const;
  // The line write() writes, newline included.
  [[nodiscard]] static std::string formatLine(const AccessRecord& record);

  // For other record kinds (datagram flows): `{"time":...,"listener":...,"client":...,
  // "backend":...` to be continued by the caller, and the finished line written in one go.
  [[nodiscard]] static std::string beginLine(std::string_view listener, std::string_view client,
                                             std::string_view backend);
  void writeLine(std::string_view line) const;

 private:
  std::string path_;  // the file, when logging to one
  base::Fd owned_;
  int fd_ = -1;                         // where lines go: owned_, or stderr
  std::unique_ptr<SyslogSink> syslog_;  // or there, when set
  // What failed writes to fd_ left behind, shared by the workers (AccessLog itself is moved).
  struct WriteLoss {
    std::atomic<std::uint64_t> dropped{0};
    std::atomic<bool> cut_short{false};  // the last line went out in part: end it first
    std::atomic<std::int64_t> last_warning_ms{-1'000'000};
  };
  std::unique_ptr<WriteLoss> write_loss_;
  void countLoss(int error) const;
};

// JSON string escaping for the few fields that come from outside (names, Unix paths).
void appendJsonString(std::string& out, std::string_view text);

}  // namespace l4lb::proxy
