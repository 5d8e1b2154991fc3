#pragma once

#include <httplib.h>

#include <atomic>
#include <chrono>
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

#include "admin/request_guard.h"
#include "base/fd.h"

namespace l4lb::admin {

using AdminClock = std::chrono::steady_clock;

// One admin connection: the bytes received and not yet served, which its listener's reader
// thread fills between requests (admin_connection_reader.h), and the Stream cpp-httplib reads a
// request from and writes its response to on a serving thread. Only one thread touches it at a
// time: the reader, or the serving thread it handed the connection to.
class AdminConnection final : public httplib::Stream {
 public:
  // `stopping`: set when the listener stops, which ends every wait here.
  AdminConnection(base::Fd fd, AccessContext context, const std::atomic<bool>& stopping);

  // The serving thread's connection, for AdminHttpServer::verdictFor.
  static AdminConnection*& current();

  // Reader side. Receives what the socket holds now (without waiting), up to `limit` bytes
  // buffered in all: false once the peer has closed or the connection failed.
  bool receiveAvailable(std::size_t limit);
  [[nodiscard]] std::string_view received() const { return received_; }
  [[nodiscard]] bool peerClosed() const { return peer_closed_; }

  // Serving side: the next request starts at the first byte received. `length`: the whole
  // request is that many bytes, all received (reads past them answer end of stream); none: its
  // body is still on the socket, read until `deadline`.
  void beginRequest(AdminClock::time_point deadline, std::optional<std::size_t> length);
  // After the response: drops the request's bytes, keeping any that came after it (pipelined).
  void endRequest();

  const AccessVerdict& verdict(std::string_view method);
  [[nodiscard]] bool refused() const { return verdict_ && verdict_->status != 0; }
  // The final status of the response written (0 before one is written).
  [[nodiscard]] int responseStatus() const { return status_; }
  [[nodiscard]] std::size_t requestsServed() const { return served_; }

  bool is_readable() const override;
  bool is_writable() const override;
  ssize_t read(char* ptr, size_t size) override;
  ssize_t write(const char* ptr, size_t size) override;
  void get_remote_ip_and_port(std::string& ip, int& port) const override;
  void get_local_ip_and_port(std::string& ip, int& port) const override;
  socket_t socket() const override { return fd_.get(); }

 private:
  AdminClock::time_point writeDeadline() const;
  bool waitFor(short events, AdminClock::time_point deadline) const;
  ssize_t receiveUntilDeadline();
  std::size_t recordHead(std::size_t n);
  void noteStatus(std::string_view written);

  base::Fd fd_;
  AccessContext context_;
  const std::atomic<bool>& stopping_;
  std::string received_;          // from the current request's first byte on
  std::size_t served_bytes_ = 0;  // of received_, handed to cpp-httplib
  std::optional<std::size_t> request_length_;
  bool peer_closed_ = false;
  AdminClock::time_point read_deadline_;
  AdminClock::time_point write_deadline_;
  bool writing_ = false;
  std::string head_;
  bool head_done_ = false;
  std::optional<AccessVerdict> verdict_;
  int status_ = 0;
  std::size_t served_ = 0;
};

// Whether a response with this status ends its connection: the request could not be read
// (400, 408, 411, 413, 414, 431), so where the next one would begin is unknown.
[[nodiscard]] bool statusClosesConnection(int status);

// The textual address and port of an AF_INET or AF_INET6 socket address.
[[nodiscard]] std::optional<std::pair<std::string, int>> addressOf(const sockaddr_storage& addr);

}  // namespace l4lb::admin
