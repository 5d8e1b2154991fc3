#include "net/datagram_socket.h"

#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>

#include <cerrno>
#include <string>

namespace l4lb::net {
namespace {

// A loopback UDP port with nothing bound to it (bound a moment ago, then closed).
std::uint16_t closedUdpPort() {
  base::Fd fd(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  EXPECT_EQ(::bind(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  socklen_t len = sizeof(addr);
  EXPECT_EQ(::getsockname(fd.get(), reinterpret_cast<sockaddr*>(&addr), &len), 0);
  return ntohs(addr.sin_port);
}

bool waitReadable(int fd) {
  pollfd p{fd, POLLIN, 0};
  return ::poll(&p, 1, 2000) == 1;
}

TEST(DatagramSocket, RefusalsAndRouteErrorsAreTheBackendsNotLocalShortages) {
  for (int error : {ECONNREFUSED, EHOSTUNREACH, ENETUNREACH, EHOSTDOWN}) {
    EXPECT_TRUE(isBackendUnreachable(error)) << error;
  }
  for (int error : {0, EAGAIN, ENOBUFS, EMSGSIZE, EINTR, ENOMEM}) {
    EXPECT_FALSE(isBackendUnreachable(error)) << error;
  }
}

// The ICMP port unreachable of a closed loopback port is queued on the connected socket: the
// error queue says ECONNREFUSED, and once emptied the socket stops signalling.
TEST(DatagramSocket, ErrorQueueHoldsThePortUnreachable) {
  auto endpoint = parseEndpoint("udp://127.0.0.1:" + std::to_string(closedUdpPort()));
  ASSERT_TRUE(endpoint);
  auto connected = connectDatagram(endpoint.value());
  ASSERT_TRUE(connected) << connected.error().message();
  const int fd = connected.value().get();
  ASSERT_EQ(::send(fd, "x", 1, 0), 1);
  ASSERT_TRUE(waitReadable(fd));  // POLLERR is always reported
  EXPECT_EQ(takeQueuedError(fd), ECONNREFUSED);
  EXPECT_EQ(takeQueuedError(fd), 0);
  pollfd p{fd, POLLIN, 0};
  EXPECT_EQ(::poll(&p, 1, 0), 0);
}

// Without the queue read, a receive returns the same refusal (what the data path sees first).
TEST(DatagramSocket, ReceiveReportsTheRefusal) {
  auto endpoint = parseEndpoint("udp://127.0.0.1:" + std::to_string(closedUdpPort()));
  ASSERT_TRUE(endpoint);
  auto connected = connectDatagram(endpoint.value());
  ASSERT_TRUE(connected) << connected.error().message();
  const int fd = connected.value().get();
  ASSERT_EQ(::send(fd, "x", 1, 0), 1);
  ASSERT_TRUE(waitReadable(fd));
  char buf[16];
  EXPECT_EQ(::recv(fd, buf, sizeof(buf), MSG_DONTWAIT), -1);
  EXPECT_EQ(errno, ECONNREFUSED);
}

}  // namespace
}  // namespace l4lb::net
