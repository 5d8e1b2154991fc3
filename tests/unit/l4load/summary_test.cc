#include "summary.h"

#include <gtest/gtest.h>

#include <cerrno>

namespace l4load {
namespace {

ConnRecord okRecord(double total_ms) {
  ConnRecord r;
  r.established = true;
  r.bytes_sent = 10;
  r.bytes_received = 10;
  r.connect_ms = 1;
  r.total_ms = total_ms;
  return r;
}

TEST(L4loadSummary, AttemptedIsOkPlusFailedByReason) {
  Summary s;
  for (int i = 0; i < 5; ++i) s.add(okRecord(i));
  ConnRecord refused;
  refused.end = EndKind::kErrno;
  refused.error = ECONNREFUSED;
  refused.failure = Failure::kConnect;
  s.add(refused);
  ConnRecord reset = okRecord(1);
  reset.end = EndKind::kRst;
  reset.failure = Failure::kReset;
  s.add(reset);
  ConnRecord corrupt = okRecord(1);
  corrupt.failure = Failure::kCorrupt;
  s.add(corrupt);

  const auto j = s.toJson();
  EXPECT_EQ(j["attempted"], 8);
  EXPECT_EQ(j["established"], 7);
  EXPECT_EQ(j["ok"], 5);
  EXPECT_EQ(j["failed"], 3);
  EXPECT_EQ(j["corrupt"], 1);
  EXPECT_EQ(j["failures"]["connect"], 1);
  EXPECT_EQ(j["failures"]["reset"], 1);
  EXPECT_EQ(j["ends"]["rst"], 1);
  EXPECT_EQ(j["ends"]["errno"], 1);
  EXPECT_EQ(j["ends"]["fin"], 6);
  EXPECT_EQ(j["errnos"]["ECONNREFUSED"], 1);
  EXPECT_EQ(j["bytes_sent"], 70);
  EXPECT_EQ(j["failure_samples"].size(), 3u);
}

TEST(L4loadSummary, FailureSamplesAreBoundedButCountsAreNot) {
  Summary s;
  ConnRecord r;
  r.failure = Failure::kTimeout;
  r.end = EndKind::kTimeout;
  for (std::size_t i = 0; i < Summary::kFailureSamples + 30; ++i) s.add(r);
  const auto j = s.toJson();
  EXPECT_EQ(j["failed"], Summary::kFailureSamples + 30);
  EXPECT_EQ(j["failure_samples"].size(), Summary::kFailureSamples);
}

TEST(L4loadSummary, LatencyPercentilesAreNearestRankOverSuccesses) {
  Summary s;
  for (int i = 1; i <= 100; ++i) s.add(okRecord(i));
  const auto j = s.toJson();
  EXPECT_EQ(j["total_ms"]["p50"], 50);
  EXPECT_EQ(j["total_ms"]["p99"], 99);
  EXPECT_EQ(j["total_ms"]["max"], 100);
  EXPECT_EQ(percentile({}, 99), 0);
  EXPECT_EQ(percentile({3}, 1), 3);
}

}  // namespace
}  // namespace l4load
