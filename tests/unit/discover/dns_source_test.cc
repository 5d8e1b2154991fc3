// The dns discover source's rules that need no server (issue 16): SRV weights, and that a
// server that does not answer is an error (never an empty answer, which could remove backends).

#include "discover/dns_source.h"

#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

namespace l4lb::discover {
namespace {

TEST(DnsSourceTest, SrvWeightsBecomeBackendWeights) {
  EXPECT_EQ(srvWeight(0), 1U);  // RFC 2782's "no weighting": every record still takes traffic
  EXPECT_EQ(srvWeight(7), 7U);
  EXPECT_EQ(srvWeight(65535), 10'000U);  // the config's largest weight
}

// A UDP port on loopback that was free a moment ago: queries to it are refused (ICMP).
std::uint16_t closedUdpPort() {
  const int fd = ::socket(AF_INET, SOCK_DGRAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  EXPECT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), len), 0);
  EXPECT_EQ(::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len), 0);
  ::close(fd);
  return ntohs(addr.sin_port);
}

TEST(DnsSourceTest, NoServerIsAnErrorNotAnEmptyAnswer) {
  for (auto type : {config::DnsRecordType::kSrv, config::DnsRecordType::kA}) {
    config::DiscoverConfig config;
    config.dns_name = "_x._tcp.example.";
    config.type = type;
    config.port = 80;
    config.server = "127.0.0.1:" + std::to_string(closedUdpPort());
    config.timeout = std::chrono::milliseconds(300);
    const std::atomic<bool> stop{false};
    const DnsResult result = askDns(config, stop);
    EXPECT_EQ(result.answer.kind, AnswerKind::kError);
    EXPECT_FALSE(result.answer.error.empty());
    EXPECT_FALSE(result.ttl);
  }
}

}  // namespace
}  // namespace l4lb::discover
