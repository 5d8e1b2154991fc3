#include <gtest/gtest.h>

#include <string>

#include "config/loader.h"
#include "config_test_util.h"

namespace l4lb::config {
namespace {

using testing::expectError;
using testing::lines;
using testing::load;

struct PacketListener {
  std::string bind = "tcp://192.0.2.10:80";
  std::string forward = "forward = \"dsr\"";
  std::string interface = "interface = \"eth0\"";
  std::string listener_extra;  // line 7
  std::string balance = "balance = \"maglev\"";
  std::string backends =
      R"(backends = [{ address = "tcp://198.51.100.11:80" }, { address = "tcp://198.51.100.12:80" }])";
  std::string pool_extra;  // line 11
};

// Listener "vip" (lines 1-7) on pool "web" (lines 8-11).
std::string text(const PacketListener& p) {
  return lines({"[[listener]]", "name = \"vip\"", "bind = \"" + p.bind + "\"", "pool = \"web\"",
                p.forward, p.interface, p.listener_extra, "[pool.web]", p.balance, p.backends,
                p.pool_extra});
}

TEST(ConfigForwardTest, ProxyIsTheDefault) {
  PacketListener p;
  p.forward = "";
  p.interface = "";
  p.bind = "tcp://127.0.0.1:7000";
  p.backends = R"(backends = [{ address = "tcp://127.0.0.1:7001" }])";
  auto result = load(text(p));
  ASSERT_TRUE(result.ok()) << testing::describeErrors(result);
  EXPECT_EQ(result.config->listeners[0].forward, Forward::kProxy);
  EXPECT_FALSE(result.config->listeners[0].packetPath());
}

TEST(ConfigForwardTest, DsrAndIpipAreRead) {
  PacketListener p;
  auto result = load(text(p));
  ASSERT_TRUE(result.ok()) << testing::describeErrors(result);
  EXPECT_EQ(result.config->listeners[0].forward, Forward::kDsr);
  EXPECT_EQ(result.config->listeners[0].interface, "eth0");
  EXPECT_TRUE(result.config->listeners[0].packetPath());

  p.forward = "forward = \"ipip\"";
  p.bind = "udp://[2001:db8::10]:53";
  p.backends = R"(backends = [{ address = "udp://198.51.100.11:53" }])";
  result = load(text(p));
  ASSERT_TRUE(result.ok()) << testing::describeErrors(result);
  EXPECT_EQ(result.config->listeners[0].forward, Forward::kIpip);
}

TEST(ConfigForwardTest, AnUnknownModeIsNamed) {
  PacketListener p;
  p.forward = "forward = \"nat\"";
  expectError(load(text(p)), "listener[0].forward", 5, "\"proxy\", \"dsr\" or \"ipip\"");
}

TEST(ConfigForwardTest, ThePacketPathNeedsAnInterface) {
  PacketListener p;
  p.interface = "";
  expectError(load(text(p)), "listener[0].forward", 5, "needs interface = \"NAME\"");
  p.interface = "interface = \"not/valid\"";
  expectError(load(text(p)), "listener[0].interface", 6, "interface name");
}

TEST(ConfigForwardTest, AnInterfaceOnAProxyListenerIsAnError) {
  PacketListener p;
  p.forward = "";
  p.bind = "tcp://127.0.0.1:7000";
  p.backends = R"(backends = [{ address = "tcp://127.0.0.1:7001" }])";
  expectError(load(text(p)), "listener[0].interface", 6, "only applies to forward = \"dsr\"");
}

TEST(ConfigForwardTest, TheBindIsOneVip) {
  PacketListener p;
  p.bind = "unix:///run/vip.sock";
  expectError(load(text(p)), "listener[0].bind", 3, "tcp://IP:PORT or udp://IP:PORT");
  p.bind = "mq:///vip";
  expectError(load(text(p)), "listener[0].bind", 3, "tcp://IP:PORT or udp://IP:PORT");
  p.bind = "tcp://0.0.0.0:80";
  expectError(load(text(p)), "listener[0].bind", 3, "no wildcard");
  p.bind = "tcp://192.0.2.10:0";
  expectError(load(text(p)), "listener[0].bind", 3, "other than 0");
}

TEST(ConfigForwardTest, NoProxyProtocol) {
  PacketListener p;
  p.listener_extra = "proxy_protocol = \"off\"";
  expectError(load(text(p)), "listener[0].proxy_protocol", 7, "PROXY protocol");
  p.listener_extra = "proxy_trusted = [\"10.0.0.0/8\"]";
  expectError(load(text(p)), "listener[0].proxy_trusted", 7, "PROXY protocol");
  p.listener_extra = "";
  p.pool_extra = "send_proxy = \"v2\"";
  expectError(load(text(p)), "pool.web.send_proxy", 11, "no PROXY header can be sent");
}

TEST(ConfigForwardTest, NoRoutesOrSni) {
  PacketListener p;
  p.listener_extra = R"(routes = [{ sni = "a.example", pool = "web" }])";
  expectError(load(text(p)), "listener[0].routes", 7, "cannot route on SNI");
  p.listener_extra = "tls_required = true";
  expectError(load(text(p)), "listener[0].tls_required", 7, "cannot route on SNI");
}

TEST(ConfigForwardTest, TheProxyPathsLimitsDoNotApply) {
  PacketListener p;
  for (const char* line : {"max_connections = 10", "allow = [\"10.0.0.0/8\"]",
                           "idle_timeout = \"1m\"", "announce = true"}) {
    p.listener_extra = line;
    const std::string key =
        "listener[0]." + std::string(line).substr(0, std::string(line).find(' '));
    expectError(load(text(p)), key, 7, "only applies to forward = \"proxy\"");
  }
}

TEST(ConfigForwardTest, ThePoolIsMaglev) {
  PacketListener p;
  p.balance = "balance = \"round-robin\"";
  expectError(load(text(p)), "listener[0].pool", 4, "needs balance = \"maglev\"");
}

TEST(ConfigForwardTest, NoPortChange) {
  PacketListener p;
  p.backends = R"(backends = [{ address = "tcp://198.51.100.11:8080" }])";
  expectError(load(text(p)), "pool.web.backends[0].address", 10,
              "no port change on the packet path");
}

TEST(ConfigForwardTest, BackendsAreIpAddresses) {
  PacketListener p;
  p.backends = R"(backends = [{ address = "unix:///run/web.sock" }])";
  // A unix backend behind a tcp listener is also the kind mismatch; the packet path names it.
  expectError(load(text(p)), "pool.web.backends[0].address", 10, "its backends are IP addresses");
  p.backends = R"(backends = [{ address = "tcp://localhost:80" }])";
  expectError(load(text(p)), "pool.web.backends[0].address", 10, "not a name");
}

TEST(ConfigForwardTest, UdpVipsTakeUdpBackends) {
  PacketListener p;
  p.bind = "udp://192.0.2.10:53";
  p.backends = R"(backends = [{ address = "mq:///q" }])";
  expectError(load(text(p)), "pool.web.backends[0].address", 10, "its backends are IP addresses");
}

TEST(ConfigForwardTest, DsrKeepsTheVipsFamily) {
  PacketListener p;
  p.backends = R"(backends = [{ address = "tcp://[2001:db8::11]:80" }])";
  expectError(load(text(p)), "pool.web.backends[0].address", 10, "only changes MAC addresses");
  p.forward = "forward = \"ipip\"";
  auto result = load(text(p));
  EXPECT_TRUE(result.ok()) << testing::describeErrors(result);
}

TEST(ConfigForwardTest, NoSourceOrDiscovery) {
  PacketListener p;
  p.pool_extra = "source = \"client\"";
  expectError(load(text(p)), "pool.web.source", 11, "keep the client's source address");
  p.pool_extra = R"(discover = { dns = "_http._tcp.example" })";
  expectError(load(text(p)), "pool.web.discover", 11, "discovered backends");
}

TEST(ConfigForwardTest, ThePoolsConnectionKeysDoNotApply) {
  PacketListener p;
  for (const char* line : {"connect_timeout = \"1s\"", "retries = 2", "queue_timeout = \"1s\"",
                           "queue_max = 10", "slow_start = \"10s\"", "eject_after = 3",
                           "eject_for = \"5s\"", "retry_on = [\"refused\"]"}) {
    p.pool_extra = line;
    const std::string key = "pool.web." + std::string(line).substr(0, std::string(line).find(' '));
    expectError(load(text(p)), key, 11, "only applies to forward = \"proxy\"");
  }
  p.pool_extra = "";
  p.backends = R"(backends = [{ address = "tcp://198.51.100.11:80", max_connections = 5 }])";
  expectError(load(text(p)), "pool.web.backends[0].max_connections", 10,
              "does not count connections");
}

TEST(ConfigForwardTest, APoolAProxyListenerAlsoUsesKeepsItsConnectionKeys) {
  PacketListener p;
  p.pool_extra = "connect_timeout = \"1s\"";
  const std::string both = text(p) + lines({"[[listener]]", "name = \"proxied\"",
                                            "bind = \"tcp://127.0.0.1:7000\"", "pool = \"web\""});
  auto result = load(both);
  EXPECT_TRUE(result.ok()) << testing::describeErrors(result);
}

TEST(ConfigForwardTest, ThePacketPathRunsAsRoot) {
  PacketListener p;
  const std::string with_user = text(p) + lines({"[global]", "user = \"root\""});
  expectError(load(with_user), "global.user", 13, "CAP_BPF");
}

}  // namespace
}  // namespace l4lb::config
