#include "admin/request_guard.h"

#include <gtest/gtest.h>

#include <string>

namespace l4lb::admin {
namespace {

constexpr std::string_view kGuardToken = "s3cret-token-for-tests";

AccessContext loopbackTcp() {
  return AccessContext{.over_unix = false,
                       .loopback_listener = true,
                       .local_ip = "127.0.0.1",
                       .local_port = 9090,
                       .token = kGuardToken};
}

std::string headWith(std::string_view method, std::string_view headers) {
  return std::string(method) + " /api/v1/status HTTP/1.1\r\n" + std::string(headers) + "\r\n";
}

AccessVerdict decide(const AccessContext& context, std::string_view method,
                     std::string_view headers) {
  return decideAccess(context, method, headWith(method, headers));
}

TEST(RequestGuardTest, RawHeaderValuesKeepWhatHttplibWouldTrim) {
  const std::string head =
      "GET / HTTP/1.1\r\nHost: a\r\nauthorization: Bearer x \r\nAUTHORIZATION:Bearer y\r\n"
      "X: z\r\n\r\nHost: body\r\n";
  const auto values = rawHeaderValues(head, "Authorization");
  ASSERT_EQ(values.size(), 2U);
  EXPECT_EQ(values[0], "Bearer x ");
  EXPECT_EQ(values[1], "Bearer y");
  EXPECT_EQ(rawHeaderValues(head, "host").size(), 1U);  // none from past the blank line
  const std::string with_nul =
      std::string("GET / HTTP/1.1\r\nAuthorization: Bearer t") + std::string(1, '\0') + "x\r\n\r\n";
  ASSERT_EQ(rawHeaderValues(with_nul, "authorization").size(), 1U);
  EXPECT_EQ(rawHeaderValues(with_nul, "authorization")[0].size(), 10U);
}

TEST(RequestGuardTest, FoldedLineIsItsOwnValue) {
  const auto values =
      rawHeaderValues("GET / HTTP/1.1\r\nAuthorization: Bearer a\r\n b\r\n\r\n", "authorization");
  EXPECT_EQ(values.size(), 2U);
}

TEST(RequestGuardTest, HostMustNameTheListener) {
  const AccessContext context = loopbackTcp();
  EXPECT_EQ(decide(context, "GET", "Host: 127.0.0.1:9090\r\n").status, 0);
  EXPECT_EQ(decide(context, "GET", "Host: localhost:9090\r\n").status, 0);
  EXPECT_EQ(decide(context, "GET", "Host: LOCALHOST\r\n").status, 0);
  EXPECT_EQ(decide(context, "GET", "Host: 127.0.0.1\r\n").status, 0);
  EXPECT_EQ(decide(context, "GET", "").status, 0);  // no Host: not a browser
  EXPECT_EQ(decide(context, "GET", "Host: rebind.example:9090\r\n").status, 421);
  EXPECT_EQ(decide(context, "GET", "Host: 127.0.0.2:9090\r\n").status, 421);
  EXPECT_EQ(decide(context, "GET", "Host: 127.0.0.1:9091\r\n").status, 421);
  EXPECT_EQ(decide(context, "GET", "Host: 127.0.0.1:\r\n").status, 421);
  EXPECT_EQ(decide(context, "GET", "Host: localhost.\r\n").status, 421);
  EXPECT_EQ(decide(context, "GET", "Host: a\r\nHost: 127.0.0.1\r\n").status, 400);
}

TEST(RequestGuardTest, Ipv6AndMappedAddresses) {
  AccessContext context = loopbackTcp();
  context.local_ip = "::1";
  EXPECT_EQ(decide(context, "GET", "Host: [::1]:9090\r\n").status, 0);
  EXPECT_EQ(decide(context, "GET", "Host: [0:0::1]\r\n").status, 0);
  EXPECT_EQ(decide(context, "GET", "Host: ::1\r\n").status, 421);
  context.local_ip = "::ffff:127.0.0.1";
  EXPECT_EQ(decide(context, "GET", "Host: 127.0.0.1:9090\r\n").status, 0);
  EXPECT_TRUE(isLoopbackAddress("127.3.2.1"));
  EXPECT_TRUE(isLoopbackAddress("::1"));
  EXPECT_TRUE(isLoopbackAddress("::ffff:127.0.0.1"));
  EXPECT_FALSE(isLoopbackAddress("0.0.0.0"));
  EXPECT_FALSE(isLoopbackAddress("::"));
  EXPECT_FALSE(isLoopbackAddress("10.0.0.1"));
}

TEST(RequestGuardTest, ForeignOriginMayReadButNotChange) {
  const AccessContext context = loopbackTcp();
  const std::string token = "Authorization: Bearer " + std::string(kGuardToken) + "\r\n";
  EXPECT_EQ(
      decide(context, "GET", "Host: 127.0.0.1:9090\r\nOrigin: http://evil.example\r\n").status, 0);
  EXPECT_EQ(
      decide(context, "POST", "Host: 127.0.0.1:9090\r\nOrigin: http://evil.example\r\n" + token)
          .status,
      403);
  EXPECT_EQ(decide(context, "PATCH", "Host: 127.0.0.1:9090\r\nOrigin: null\r\n" + token).status,
            403);
  EXPECT_EQ(
      decide(context, "PATCH", "Host: 127.0.0.1:9090\r\nOrigin: https://127.0.0.1:9090\r\n").status,
      403);
  const AccessVerdict same =
      decide(context, "PATCH", "Host: 127.0.0.1:9090\r\nOrigin: http://127.0.0.1:9090\r\n" + token);
  EXPECT_EQ(same.status, 0);
  EXPECT_TRUE(same.may_change);
}

TEST(RequestGuardTest, ExactlyOneWellFormedAuthorization) {
  const AccessContext context = loopbackTcp();
  const std::string good = "Bearer " + std::string(kGuardToken);
  EXPECT_TRUE(decide(context, "PATCH", "Authorization: " + good + "\r\n").may_change);
  EXPECT_TRUE(decide(context, "PATCH", "Authorization: bearer " + std::string(kGuardToken) + "\r\n")
                  .may_change);
  EXPECT_EQ(decide(context, "PATCH", "Authorization: " + good + " \r\n").status, 400);
  EXPECT_EQ(decide(context, "PATCH", "Authorization: " + good + "\t\r\n").status, 400);
  EXPECT_EQ(
      decide(context, "PATCH", "Authorization: " + good + std::string(1, '\0') + "\r\n").status,
      400);
  EXPECT_EQ(
      decide(context, "PATCH", "Authorization: " + good + "\r\nAuthorization: Bearer wrong\r\n")
          .status,
      400);
  EXPECT_EQ(decide(context, "PATCH", "Authorization: Basic abc\r\n").status, 400);
  const AccessVerdict wrong = decide(context, "PATCH", "Authorization: Bearer wrong-token\r\n");
  EXPECT_EQ(wrong.status, 0);  // the router answers 401 for a change
  EXPECT_FALSE(wrong.may_change);
  AccessContext no_token = context;
  no_token.token = "";
  EXPECT_FALSE(decide(no_token, "PATCH", "Authorization: Bearer x\r\n").may_change);
}

TEST(RequestGuardTest, NonLoopbackListenerNeedsTheTokenToRead) {
  AccessContext context = loopbackTcp();
  context.loopback_listener = false;
  context.local_ip = "10.0.0.1";
  EXPECT_EQ(decide(context, "GET", "Host: 10.0.0.1:9090\r\n").status, 401);
  EXPECT_EQ(
      decide(context, "GET",
             "Host: 10.0.0.1:9090\r\nAuthorization: Bearer " + std::string(kGuardToken) + "\r\n")
          .status,
      0);
}

TEST(RequestGuardTest, UnixSocketTrustsItsFileMode) {
  const AccessVerdict verdict = decide(AccessContext{.over_unix = true,
                                                     .loopback_listener = true,
                                                     .local_ip = {},
                                                     .local_port = 0,
                                                     .token = {}},
                                       "PATCH", "Host: anything\r\nOrigin: http://x\r\n");
  EXPECT_EQ(verdict.status, 0);
  EXPECT_TRUE(verdict.may_change);
}

}  // namespace
}  // namespace l4lb::admin
