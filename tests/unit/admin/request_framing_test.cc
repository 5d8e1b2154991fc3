#include "admin/request_framing.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace l4lb::admin {
namespace {

constexpr std::size_t kFramingHeadLimit = 16 * 1024;
constexpr std::size_t kFramingBodyLimit = 64 * 1024;

RequestFraming frameWithAdminLimits(std::string_view received) {
  return frameRequest(received, kFramingHeadLimit, kFramingBodyLimit);
}

using FramingKind = RequestFraming::Kind;

TEST(RequestFramingTest, HeadWithoutBodyIsWholeAtTheBlankLine) {
  const std::string request = "GET /api/v1/status HTTP/1.1\r\nHost: localhost\r\n\r\n";
  for (std::size_t cut = 0; cut < request.size(); ++cut) {
    EXPECT_EQ(frameWithAdminLimits(request.substr(0, cut)).kind, FramingKind::kNeedMore) << cut;
  }
  const RequestFraming whole = frameWithAdminLimits(request);
  EXPECT_EQ(whole.kind, FramingKind::kComplete);
  EXPECT_EQ(whole.length, request.size());
}

TEST(RequestFramingTest, TrickledHeaderLinesNeverEndTheHead) {
  std::string received = "GET /api/v1/status HTTP/1.1\r\nHost: 127.0.0.1\r\n";
  for (int i = 0; i < 100; ++i) {
    received += "X-Slow: x\r\n";
    EXPECT_EQ(frameWithAdminLimits(received).kind, FramingKind::kNeedMore);
  }
}

TEST(RequestFramingTest, BareLineFeedsEndTheHeadAsHttplibReadsThem) {
  const RequestFraming whole = frameWithAdminLimits("GET / HTTP/1.1\nHost: x\n\n");
  EXPECT_EQ(whole.kind, FramingKind::kComplete);
  EXPECT_EQ(whole.length, 24U);
}

TEST(RequestFramingTest, ContentLengthBodyIsWaitedForAndPipelinedBytesAreLeft) {
  const std::string head =
      "PATCH /api/v1/pools/back/backends/one HTTP/1.1\r\ncontent-length: 18\r\n\r\n";
  const std::string body = R"({"state": "drain"})";
  EXPECT_EQ(frameWithAdminLimits(head).kind, FramingKind::kNeedMore);
  EXPECT_EQ(frameWithAdminLimits(head + body.substr(0, 17)).kind, FramingKind::kNeedMore);
  const std::string next = "GET /api/v1/status HTTP/1.1\r\n";
  const RequestFraming whole = frameWithAdminLimits(head + body + next);
  EXPECT_EQ(whole.kind, FramingKind::kComplete);
  EXPECT_EQ(whole.length, head.size() + body.size());
}

TEST(RequestFramingTest, BodiesTheServingThreadMustReadOrRefuseGoOverAfterTheHead) {
  const std::vector<std::string> heads = {
      "POST /x HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n",
      "POST /x HTTP/1.1\r\nContent-Length: 65537\r\n\r\n",  // over the body limit: 413
      "POST /x HTTP/1.1\r\nContent-Length: 12abc\r\n\r\n",  // not a number: 400
      "POST /x HTTP/1.1\r\nContent-Length: 2\r\nContent-Length: 2\r\n\r\n",  // duplicates
      "POST /x HTTP/1.1\r\nContent-Length: 2000\r\nExpect: 100-continue\r\n\r\n",
  };
  for (const std::string& head : heads) {
    const RequestFraming framing = frameWithAdminLimits(head + "ab");
    EXPECT_EQ(framing.kind, FramingKind::kHeadOnly) << head;
    EXPECT_EQ(framing.length, head.size()) << head;
  }
}

TEST(RequestFramingTest, HeadOverItsLimitGoesOverAsReceived) {
  std::string received = "GET / HTTP/1.1\r\nX-Long: " + std::string(kFramingHeadLimit, 'a');
  const RequestFraming framing = frameWithAdminLimits(received);
  EXPECT_EQ(framing.kind, FramingKind::kHeadOnly);
  EXPECT_EQ(framing.length, received.size());
  // Ending after the limit is no better.
  received += "\r\n\r\n";
  EXPECT_EQ(frameWithAdminLimits(received).kind, FramingKind::kHeadOnly);
}

TEST(RequestFramingTest, ContentLengthMayCarryTrailingSpaces) {
  const std::string request = "POST /x HTTP/1.1\r\nContent-Length: 2 \r\n\r\nab";
  const RequestFraming framing = frameWithAdminLimits(request);
  EXPECT_EQ(framing.kind, FramingKind::kComplete);
  EXPECT_EQ(framing.length, request.size());
}

TEST(PickEvicteeTest, OldestConnectionNotBeingServed) {
  const auto t0 = std::chrono::steady_clock::time_point{} + std::chrono::seconds(100);
  const std::vector<EvictionCandidate> connections = {
      {.serving = true, .waiting_since = t0},
      {.serving = false, .waiting_since = t0 + std::chrono::seconds(3)},
      {.serving = false, .waiting_since = t0 + std::chrono::seconds(1)},
      {.serving = false, .waiting_since = t0 + std::chrono::seconds(2)},
  };
  EXPECT_EQ(pickEvictee(connections), 2U);
}

TEST(PickEvicteeTest, NoneWhenEveryConnectionIsBeingServed) {
  const auto t0 = std::chrono::steady_clock::time_point{};
  const std::vector<EvictionCandidate> connections(4, {.serving = true, .waiting_since = t0});
  EXPECT_EQ(pickEvictee(connections), std::nullopt);
  EXPECT_EQ(pickEvictee({}), std::nullopt);
}

}  // namespace
}  // namespace l4lb::admin
