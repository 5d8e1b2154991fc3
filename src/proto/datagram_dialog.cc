#include "proto/datagram_dialog.h"

#include <fmt/format.h>

#include <utility>

#include "proto/dns_check.h"
#include "proto/printable.h"

namespace l4lb::proto {

namespace {

class DnsDialog final : public DatagramDialog {
 public:
  DnsDialog(std::uint16_t id, std::string_view wire_name, std::uint16_t type)
      : query_(dnsQuery(id, wire_name, type)) {}

  [[nodiscard]] const std::string& request() const override { return query_; }
  [[nodiscard]] CheckVerdict onReply(std::string_view reply) const override {
    return parseDnsReply(reply, query_);
  }
  [[nodiscard]] CheckVerdict onSilence(std::int64_t waited_ms) const override {
    return CheckVerdict::down(fmt::format("timed out after {} ms waiting for a reply", waited_ms));
  }

 private:
  std::string query_;
};

class UdpDialog final : public DatagramDialog {
 public:
  UdpDialog(std::string send, std::optional<std::string> expect)
      : send_(std::move(send)), expect_(std::move(expect)) {}

  [[nodiscard]] const std::string& request() const override { return send_; }

  [[nodiscard]] CheckVerdict onReply(std::string_view reply) const override {
    if (!expect_) {
      return CheckVerdict::up(fmt::format("a reply of {} bytes", reply.size()));
    }
    CheckVerdict verdict = parseExpectReply(reply, *expect_);
    if (verdict.status == CheckStatus::kNeedMore) {
      // Another datagram would not continue this one.
      return CheckVerdict::down(
          fmt::format("reply \"{}\" is shorter than expect", printable(reply, 80)));
    }
    return verdict;
  }

  [[nodiscard]] CheckVerdict onSilence(std::int64_t waited_ms) const override {
    if (expect_) {
      return CheckVerdict::down(fmt::format("no reply within {} ms", waited_ms));
    }
    // An ICMP port unreachable comes back within one round trip; none came.
    return CheckVerdict::up(fmt::format("no refusal within {} ms", waited_ms));
  }

 private:
  std::string send_;
  std::optional<std::string> expect_;
};

}  // namespace

std::unique_ptr<DatagramDialog> makeDnsDialog(std::uint16_t id, std::string_view wire_name,
                                              std::uint16_t type) {
  return std::make_unique<DnsDialog>(id, wire_name, type);
}

std::unique_ptr<DatagramDialog> makeUdpDialog(std::string send, std::optional<std::string> expect) {
  return std::make_unique<UdpDialog>(std::move(send), std::move(expect));
}

}  // namespace l4lb::proto
