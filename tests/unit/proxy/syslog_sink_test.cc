#include "proxy/syslog_sink.h"

#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <array>
#include <cstdlib>
#include <string>

namespace l4lb::proxy {
namespace {

// A unixgram socket bound in a fresh directory, as a syslog daemon's /dev/log would be.
struct Receiver {
  std::string dir;
  std::string path;
  base::Fd fd;

  static Receiver make() {
    Receiver r;
    std::string templ = ::testing::TempDir() + "syslog_sink_XXXXXX";
    r.dir = ::mkdtemp(templ.data());
    r.path = r.dir + "/log.sock";
    r.fd = base::Fd(::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0));
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    r.path.copy(addr.sun_path, sizeof(addr.sun_path) - 1);
    EXPECT_EQ(::bind(r.fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
    return r;
  }
  ~Receiver() {
    if (!path.empty()) ::unlink(path.c_str());
    if (!dir.empty()) ::rmdir(dir.c_str());
  }
  Receiver() = default;
  Receiver(Receiver&&) = default;

  std::string receive() const {
    std::array<char, 8192> buffer{};
    const ssize_t n = ::recv(fd.get(), buffer.data(), buffer.size(), MSG_DONTWAIT);
    return n > 0 ? std::string(buffer.data(), static_cast<std::size_t>(n)) : std::string();
  }
};

SyslogSink openSink(const std::string& url, int facility = 16) {
  auto endpoint = net::parseEndpoint(url);
  EXPECT_TRUE(endpoint) << url;
  auto sink = SyslogSink::open(endpoint.value(), facility, "l4lb");
  EXPECT_TRUE(sink);
  return std::move(sink).value();
}

TEST(SyslogSinkTest, OneLineIsOneRfc3164DatagramWithoutTheNewline) {
  Receiver receiver = Receiver::make();
  const SyslogSink sink = openSink("unixgram://" + receiver.path, 19);  // local3
  sink.send("{\"listener\":\"front\"}\n");
  const std::string got = receiver.receive();
  // <PRI> = local3 (19) * 8 + info (6); "Mmm dd hh:mm:ss", then the tag and pid: no host
  // towards a local socket, as syslog(3) writes to /dev/log.
  ASSERT_TRUE(got.starts_with("<158>")) << got;
  EXPECT_EQ(got[8], ' ') << got;  // "<158>Dec" then a space
  const std::string tail = " l4lb[" + std::to_string(::getpid()) + "]: {\"listener\":\"front\"}";
  EXPECT_TRUE(got.ends_with(tail)) << got;
  EXPECT_EQ(got.size(), std::string("<158>Mmm dd hh:mm:ss").size() + tail.size()) << got;
  EXPECT_EQ(sink.dropped(), 0U);
}

TEST(SyslogSinkTest, OverUdpTheHeaderNamesTheHost) {
  const SyslogSink sink = openSink("udp://127.0.0.1:514");
  const std::string header = sink.header(0);
  std::array<char, 256> host{};
  ASSERT_EQ(::gethostname(host.data(), host.size() - 1), 0);
  EXPECT_TRUE(header.starts_with("<134>")) << header;
  EXPECT_NE(header.find(std::string(" ") + host.data() + " l4lb["), std::string::npos) << header;
}

TEST(SyslogSinkTest, NoReceiverDropsAndCounts) {
  Receiver receiver = Receiver::make();
  const std::string gone = receiver.path + ".absent";
  const SyslogSink sink = openSink("unixgram://" + gone);
  sink.send("one\n");
  sink.send("two\n");
  EXPECT_EQ(sink.dropped(), 2U);
}

TEST(SyslogSinkTest, AFullReceiverNeverBlocksTheSender) {
  Receiver receiver = Receiver::make();  // never read: its queue fills
  const SyslogSink sink = openSink("unixgram://" + receiver.path);
  const std::string line(1000, 'x');
  // Bounded: far more than a unix datagram queue holds by default (max_dgram_qlen, rcvbuf).
  for (int i = 0; i < 5000 && sink.dropped() == 0; ++i) sink.send(line);
  EXPECT_GT(sink.dropped(), 0U);
  EXPECT_FALSE(receiver.receive().empty());  // what fitted arrived
}

}  // namespace
}  // namespace l4lb::proxy
