#include "health/datagram_probe.h"

#include <fmt/format.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>
#include <random>

#include "health/health_checker.h"
#include "net/datagram_socket.h"
#include "proto/dns_check.h"
#include "proto/printable.h"

namespace l4lb::health {

namespace {

// Without EDNS a DNS reply over UDP is at most 512 bytes (RFC 1035 4.2.1); anything longer is
// still judged by its header and question, and a udp check's expect is at most this long.
constexpr std::size_t kReplyBuffer = 4096;

// Why a send or receive failed, for the state-change log line. ECONNREFUSED is an ICMP port
// unreachable (or a Unix path with no receiver); the host and network ones come with IP_RECVERR.
std::string socketFailure(std::string_view call, int error) {
  switch (error) {
    case ECONNREFUSED: return "connection refused";
    case EHOSTUNREACH: return "host unreachable";
    case ENETUNREACH: return "network unreachable";
    default: return fmt::format("{}: {}", call, std::strerror(error));
  }
}

}  // namespace

DatagramProbe::DatagramProbe(HealthChecker& owner, io::EventLoop& loop, std::uint32_t pool,
                             std::uint32_t backend, const config::PoolConfig& pool_config)
    : owner_(owner),
      loop_(loop),
      pool_(pool),
      backend_(backend),
      config_(*pool_config.health),
      backend_config_(pool_config.backends[backend]),
      source_(pool_config.source.kind == config::SourceKind::kAddress ? pool_config.source.address
                                                                      : net::LocalSource{}),
      counter_(config_.rise, config_.fall),
      random_state_((std::uint64_t{std::random_device{}()} << 32) | std::random_device{}()) {
  if (config_.check == config::CheckKind::kDns) {
    // The config loader checked the name already.
    auto wire = proto::encodeDnsName(config_.dns_name);
    wire_name_ = wire ? std::move(wire).value() : std::string(1, '\0');
  }
}

std::unique_ptr<proto::DatagramDialog> DatagramProbe::makeDialog() {
  if (config_.check == config::CheckKind::kUdp) {
    return proto::makeUdpDialog(config_.send, config_.expect_set
                                                  ? std::optional<std::string>(config_.expect)
                                                  : std::nullopt);
  }
  return proto::makeDnsDialog(nextId(), wire_name_, config_.dns_type);
}

DatagramProbe::~DatagramProbe() {
  loop_.timers().cancel(this);
  if (fd_) loop_.remove(fd_.get());
}

void DatagramProbe::start(std::int64_t at) { loop_.timers().schedule(this, at); }

std::uint16_t DatagramProbe::nextId() {
  std::uint64_t z = (random_state_ += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return static_cast<std::uint16_t>(z ^ (z >> 31));
}

void DatagramProbe::onTimer() {
  if (!fd_) {
    begin();
    return;
  }
  finish(dialog_->onSilence(config_.timeout.count()));
}

void DatagramProbe::begin() {
  dialog_ = makeDialog();
  auto connected = net::connectDatagram(backend_config_.address, source_);
  if (!connected) {
    finish(false, connected.error().message());
    return;
  }
  fd_ = std::move(connected.value());
  auto added = loop_.add(fd_.get(), EPOLLIN, this);
  if (!added) {
    finish(false, added.error().message());
    return;
  }
  loop_.timers().schedule(this, loop_.now() + config_.timeout.count());
  const std::string& request = dialog_->request();
  while (::send(fd_.get(), request.data(), request.size(), MSG_NOSIGNAL) < 0) {
    if (errno == EINTR) continue;
    // A full send buffer on a UDP socket that has sent nothing yet: the system is out of
    // memory. On a unixgram socket EAGAIN is the receiver's full queue: it is not reading.
    finish(false, errno == EAGAIN ? std::string("the receiver's queue is full (not reading)")
                                  : socketFailure("send", errno));
    return;
  }
}

void DatagramProbe::onEvents(std::uint32_t /*events*/) {
  if (fd_) readReply();
}

void DatagramProbe::readReply() {
  char buffer[kReplyBuffer];
  ssize_t n = 0;
  do {
    n = ::recv(fd_.get(), buffer, sizeof(buffer), 0);
  } while (n < 0 && errno == EINTR);
  if (n < 0) {
    if (errno != EAGAIN && errno != EWOULDBLOCK) {
      // ECONNREFUSED: an ICMP port unreachable answered the datagram.
      finish(false, socketFailure("recv", errno));
      return;
    }
    // The error a send took already may still be queued (IP_RECVERR); it says the same.
    const int queued = net::takeQueuedError(fd_.get());
    if (queued != 0) finish(false, socketFailure("recv", queued));
    return;
  }
  finish(dialog_->onReply(std::string_view(buffer, static_cast<std::size_t>(n))));
}

void DatagramProbe::finish(const proto::CheckVerdict& verdict) {
  finish(verdict.status == proto::CheckStatus::kUp, verdict.reason);
}

void DatagramProbe::finish(bool up, std::string reason) {
  // The one way out of a check: what a server sent (an echo of AUTH, say) loses the password
  // here, before the log, the API or the check history see it.
  reason = proto::redactSecret(std::move(reason), config_.password);
  if (fd_) {
    loop_.remove(fd_.get());
    fd_.reset();
  }
  loop_.timers().cancel(this);
  const control::BackendState before = counter_.state();
  owner_.onChecked(pool_, backend_, up, reason);
  if (counter_.record(up)) owner_.onStateChange(pool_, backend_, before, counter_.state(), reason);
  loop_.timers().schedule(this, loop_.now() + owner_.jitteredInterval(config_.interval));
}

}  // namespace l4lb::health
