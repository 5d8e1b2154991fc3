#include "net/fd_passing.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <string_view>

namespace l4lb::net {
namespace {

struct SocketPair {
  base::Fd a;
  base::Fd b;
};

SocketPair seqpacketPair() {
  std::array<int, 2> fds{};
  EXPECT_EQ(::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, fds.data()), 0);
  return {base::Fd(fds[0]), base::Fd(fds[1])};
}

std::span<const std::byte> bytesOf(std::string_view text) {
  return std::as_bytes(std::span(text.data(), text.size()));
}

TEST(FdPassingTest, DescriptorArrivesWorkingWithItsMessage) {
  SocketPair link = seqpacketPair();
  std::array<int, 2> pipe_fds{};
  ASSERT_EQ(::pipe2(pipe_fds.data(), O_CLOEXEC), 0);
  base::Fd read_end(pipe_fds[0]);
  base::Fd write_end(pipe_fds[1]);
  ASSERT_EQ(::write(write_end.get(), "in the pipe", 11), 11);

  const int passed[] = {read_end.get()};
  auto sent = sendWithFds(link.a.get(), bytesOf("listener web"), passed);
  ASSERT_TRUE(sent) << sent.error().message();
  read_end.reset();  // the receiver's copy must stand on its own

  std::array<std::byte, 64> buffer{};
  auto received = receiveWithFds(link.b.get(), buffer);
  ASSERT_TRUE(received) << received.error().message();
  EXPECT_EQ(std::string_view(reinterpret_cast<const char*>(buffer.data()), received.value().length),
            "listener web");
  ASSERT_EQ(received.value().fds.size(), 1U);
  const int fd = received.value().fds[0].get();
  EXPECT_NE(::fcntl(fd, F_GETFD) & FD_CLOEXEC, 0);
  std::array<char, 32> data{};
  EXPECT_EQ(::read(fd, data.data(), data.size()), 11);
  EXPECT_EQ(std::string_view(data.data(), 11), "in the pipe");
}

TEST(FdPassingTest, MessageWithoutDescriptors) {
  SocketPair link = seqpacketPair();
  ASSERT_TRUE(sendWithFds(link.a.get(), bytesOf("done"), {}));
  std::array<std::byte, 16> buffer{};
  auto received = receiveWithFds(link.b.get(), buffer);
  ASSERT_TRUE(received);
  EXPECT_EQ(received.value().length, 4U);
  EXPECT_TRUE(received.value().fds.empty());
}

TEST(FdPassingTest, TruncatedMessageIsAnErrorAndLeaksNothing) {
  SocketPair link = seqpacketPair();
  std::array<int, 2> pipe_fds{};
  ASSERT_EQ(::pipe2(pipe_fds.data(), O_CLOEXEC), 0);
  base::Fd read_end(pipe_fds[0]);
  base::Fd write_end(pipe_fds[1]);
  const int passed[] = {read_end.get()};
  ASSERT_TRUE(sendWithFds(link.a.get(), bytesOf("a message longer than the buffer"), passed));
  read_end.reset();
  std::array<std::byte, 8> small{};
  auto received = receiveWithFds(link.b.get(), small);
  ASSERT_FALSE(received);
  EXPECT_EQ(received.error().code, EMSGSIZE);
  // The descriptor that came with it was closed: the pipe has no reader left, which poll
  // reports on the write end as an error.
  pollfd watch{.fd = write_end.get(), .events = POLLOUT, .revents = 0};
  ASSERT_EQ(::poll(&watch, 1, 0), 1);
  EXPECT_NE(watch.revents & POLLERR, 0);
}

TEST(FdPassingTest, EofIsAnEmptyMessage) {
  SocketPair link = seqpacketPair();
  link.a.reset();
  std::array<std::byte, 8> buffer{};
  auto received = receiveWithFds(link.b.get(), buffer);
  ASSERT_TRUE(received);
  EXPECT_EQ(received.value().length, 0U);
}

TEST(FdPassingTest, RefusesEmptyDataOrTooManyDescriptors) {
  SocketPair link = seqpacketPair();
  EXPECT_FALSE(sendWithFds(link.a.get(), {}, {}));
  std::array<int, kMaxPassedFds + 1> many{};
  many.fill(link.a.get());
  EXPECT_FALSE(sendWithFds(link.a.get(), bytesOf("x"), many));
}

}  // namespace
}  // namespace l4lb::net
