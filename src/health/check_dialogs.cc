#include "health/check_dialogs.h"

#include <functional>
#include <random>
#include <string>
#include <utility>

#include "health/https_dialog.h"
#include "proto/mysql_dialog.h"
#include "proto/pgsql_dialog.h"
#include "proto/tls_check_dialog.h"

namespace l4lb::health {

namespace {

// The checks that send one request and judge the reply as a whole: the reply so far is
// re-parsed after every read until the parser decides.
class RequestReplyDialog final : public proto::CheckDialog {
 public:
  using Parse = std::function<proto::CheckVerdict(std::string_view)>;

  RequestReplyDialog(std::string request, Parse parse)
      : request_(std::move(request)), parse_(std::move(parse)) {}

  std::string opening() override { return request_; }

  proto::DialogStep onReceived(std::string_view received) override {
    reply_.append(received);
    proto::CheckVerdict verdict = parse_(reply_);
    if (verdict.status == proto::CheckStatus::kNeedMore && reply_.size() >= proto::kMaxCheckReply) {
      verdict = proto::CheckVerdict::down("reply too long without a verdict");
    }
    return {std::move(verdict), {}};
  }

 private:
  std::string request_;
  Parse parse_;
  std::string reply_;
};

// Host header when none is configured: the backend's address as written, without the scheme.
std::string defaultHost(const net::Endpoint& endpoint) {
  if (endpoint.kind != net::EndpointKind::kTcp) return "localhost";
  std::string_view url = endpoint.url;
  if (auto scheme = url.find("://"); scheme != std::string_view::npos) {
    url.remove_prefix(scheme + 3);
  }
  return std::string(url);
}

// The host part of an address as written ("db.example.com", "192.0.2.1", "::1"): the name an
// https backend's certificate must carry when the check names none.
std::string writtenHost(const net::Endpoint& endpoint) {
  std::string host = defaultHost(endpoint);
  if (!host.empty() && host.front() == '[') {
    const auto close = host.find(']');
    return close == std::string::npos ? host : host.substr(1, close - 1);
  }
  if (const auto colon = host.rfind(':'); colon != std::string::npos) host.resize(colon);
  return host;
}

// Fresh randomness for each ClientHello (random, session id, key share) without a system call
// per check: the health thread's generator is seeded once from the kernel.
std::uint64_t helloSeed() {
  thread_local std::uint64_t state =
      (std::uint64_t{std::random_device{}()} << 32) | std::random_device{}();
  // splitmix64's output, so that one hello's stream of words is not the next one's shifted.
  std::uint64_t z = (state += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

}  // namespace

std::unique_ptr<proto::CheckDialog> makeCheckDialog(const config::HealthConfig& health,
                                                    const config::BackendConfig& backend) {
  using config::CheckKind;
  const net::Endpoint& address = backend.address;
  const proto::Role role = backend.role.value_or(health.role);
  switch (health.check) {
    case CheckKind::kTcp: return nullptr;
    case CheckKind::kSendExpect:
      return std::make_unique<RequestReplyDialog>(health.send,
                                                  [expect = health.expect](std::string_view reply) {
                                                    return proto::parseExpectReply(reply, expect);
                                                  });
    case CheckKind::kRedis:
      return std::make_unique<RequestReplyDialog>(
          proto::redisRequest(health.password, role),
          [with_auth = !health.password.empty(), role](std::string_view reply) {
            return proto::parseRedisReply(reply, with_auth, role);
          });
    case CheckKind::kMemcached:
      return std::make_unique<RequestReplyDialog>(proto::memcachedRequest(),
                                                  proto::parseMemcachedReply);
    case CheckKind::kHttp:
      return std::make_unique<RequestReplyDialog>(
          proto::httpRequest(health.path, health.host.empty() ? defaultHost(address) : health.host),
          [min = static_cast<int>(health.min_status), max = static_cast<int>(health.max_status)](
              std::string_view reply) { return proto::parseHttpReply(reply, min, max); });
    case CheckKind::kHttps: {
      // The name to verify: sni, else the Host header's name, else the address as written.
      std::string name = !health.sni.empty()    ? health.sni
                         : !health.host.empty() ? health.host
                                                : writtenHost(address);
      return std::make_unique<HttpsDialog>(HttpsDialog::Options{
          .ca_file = health.ca_file,
          .sni = name,  // as a browser would; never an IP address (RFC 6066 3)
          .verify_name = name,
          .request = proto::httpRequest(health.path,
                                        health.host.empty() ? defaultHost(address) : health.host),
          .min_status = static_cast<int>(health.min_status),
          .max_status = static_cast<int>(health.max_status)});
    }
    case CheckKind::kMysql:
      return std::make_unique<proto::MysqlDialog>(health.user, health.password, role);
    case CheckKind::kPgsql:
      return std::make_unique<proto::PgsqlDialog>(health.user, health.database, health.password,
                                                  role);
    case CheckKind::kTls: return std::make_unique<proto::TlsCheckDialog>(health.sni, helloSeed());
    case CheckKind::kDns:
    case CheckKind::kUdp: return nullptr;  // datagram pools: DatagramProbe, not a conversation
  }
  return nullptr;
}

}  // namespace l4lb::health
