#include "app/ctl_reach.h"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <fstream>
#include <string>

#include "base/fd.h"

namespace l4lb::app {
namespace {

// A fresh directory under /tmp, removed with what is in it.
struct TempDir {
  std::string path;
  TempDir() {
    char name[] = "/tmp/l4lb-ctl-reach-XXXXXX";
    path = ::mkdtemp(name);
  }
  ~TempDir() { (void)!std::system(("rm -rf " + path).c_str()); }
};

net::Endpoint unixEndpoint(const std::string& path) {
  auto parsed = net::parseEndpoint("unix://" + path);
  EXPECT_TRUE(parsed) << parsed.error().message();
  return *parsed;
}

TEST(AdminUrlOf, ABarePathIsAUnixSocket) {
  EXPECT_EQ(adminUrlOf("/run/l4lb/admin.sock"), "unix:///run/l4lb/admin.sock");
  EXPECT_EQ(adminUrlOf("unix:///run/x.sock"), "unix:///run/x.sock");
  EXPECT_EQ(adminUrlOf("tcp://127.0.0.1:9000"), "tcp://127.0.0.1:9000");
  const std::string relative = adminUrlOf("admin.sock");
  EXPECT_EQ(relative.rfind("unix:///", 0), 0U) << relative;
  EXPECT_EQ(relative.substr(relative.size() - 11), "/admin.sock") << relative;
}

TEST(WhyUnreachable, AMissingSocketSaysSoWithTheHint) {
  TempDir dir;
  const std::string why = whyUnreachable(unixEndpoint(dir.path + "/none.sock"));
  EXPECT_NE(why.find("No such file or directory"), std::string::npos) << why;
  EXPECT_NE(why.find(kCtlHint), std::string::npos) << why;
}

TEST(WhyUnreachable, ARegularFileIsNotASocket) {
  TempDir dir;
  std::ofstream(dir.path + "/file") << "x";
  const std::string why = whyUnreachable(unixEndpoint(dir.path + "/file"));
  EXPECT_NE(why.find("a regular file, not a socket"), std::string::npos) << why;
}

TEST(WhyUnreachable, ASocketNobodyListensOnIsRefused) {
  TempDir dir;
  const std::string path = dir.path + "/dead.sock";
  {
    // Bound, never listening, closed: the file stays, as after a crash.
    base::Fd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
    const net::Endpoint endpoint = unixEndpoint(path);
    ASSERT_EQ(::bind(fd.get(), endpoint.sockaddrPtr(), endpoint.addr_len), 0);
  }
  const std::string why = whyUnreachable(unixEndpoint(path));
  EXPECT_NE(why.find("connect: Connection refused"), std::string::npos) << why;
  EXPECT_NE(why.find(kCtlHint), std::string::npos) << why;
}

TEST(WhyUnreachable, AListeningSocketIsNoProblem) {
  TempDir dir;
  const std::string path = dir.path + "/live.sock";
  base::Fd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  const net::Endpoint endpoint = unixEndpoint(path);
  ASSERT_EQ(::bind(fd.get(), endpoint.sockaddrPtr(), endpoint.addr_len), 0);
  ASSERT_EQ(::listen(fd.get(), 4), 0);
  EXPECT_EQ(whyUnreachable(endpoint), "");
}

}  // namespace
}  // namespace l4lb::app
