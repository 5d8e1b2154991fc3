#include "base/result.h"

#include <gtest/gtest.h>

#include <cerrno>
#include <memory>
#include <string>

namespace l4lb::base {
namespace {

TEST(Error, ASystemCallsErrorSaysTheCallAndTheErrno) {
  EXPECT_EQ(sysError(ECONNREFUSED, "connect").message(), "connect: Connection refused");
}

TEST(Error, AFailureThatIsNotASystemCallsIsItsOwnMessage) {
  const Error error = failure("unknown key \"colour\"");
  EXPECT_EQ(error.code, 0);
  EXPECT_EQ(error.message(), "unknown key \"colour\"");
}

TEST(Error, WithinAddsWhatItWasWorkingOnOutermostFirst) {
  const Error error =
      sysError(EADDRINUSE, "bind").within("tcp://127.0.0.1:80").within("listener web");
  EXPECT_EQ(error.code, EADDRINUSE);
  EXPECT_EQ(error.message(), "listener web: tcp://127.0.0.1:80: bind: Address already in use");
  EXPECT_EQ(failure("no such file").within("token_file").message(), "token_file: no such file");
  EXPECT_EQ(failure("x").within("").message(), "x");
}

TEST(Error, LastErrorReadsErrno) {
  errno = EMFILE;
  const Error error = lastError("accept4");
  EXPECT_EQ(error.code, EMFILE);
  EXPECT_STREQ(error.op, "accept4");
}

TEST(Result, HoldsAValueOrAnError) {
  Result<std::string> good = std::string("value");
  ASSERT_TRUE(good);
  EXPECT_EQ(*good, "value");
  EXPECT_EQ(good->size(), 5U);

  Result<std::string> bad = failure("broken");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().message(), "broken");
}

TEST(Result, MovesAValueThatCannotBeCopied) {
  Result<std::unique_ptr<int>> made = std::make_unique<int>(7);
  ASSERT_TRUE(made);
  std::unique_ptr<int> taken = std::move(made).value();
  EXPECT_EQ(*taken, 7);
}

TEST(Result, VoidSucceedsEmptyAndFailsWithAnError) {
  const Result<void> good;
  EXPECT_TRUE(good.ok());
  const Result<void> bad = sysError(EBADF, "epoll_ctl add");
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().code, EBADF);
}

}  // namespace
}  // namespace l4lb::base
