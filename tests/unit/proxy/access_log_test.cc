#include "proxy/access_log.h"

#include <gtest/gtest.h>

#include <array>
#include <cerrno>
#include <nlohmann/json.hpp>

namespace l4lb::proxy {
namespace {

AccessRecord failedRecord(std::span<const FailedAttempt> failed) {
  AccessRecord record;
  record.listener = "front";
  record.client = "127.0.0.1:5000";
  record.attempts = static_cast<std::uint32_t>(failed.size());
  record.failed = failed;
  record.end = EndReason::kConnectFailed;
  return record;
}

TEST(AccessLogTest, EachFailedAttemptNamesItsBackendAndWhy) {
  const std::array<FailedAttempt, 3> failed = {{{"tcp://127.0.0.1:9001", ECONNREFUSED},
                                                {"tcp://127.0.0.1:9002", ETIMEDOUT},
                                                {"tcp://[::1]:9003", ENODATA}}};
  const std::string line = AccessLog::formatLine(failedRecord(failed));
  ASSERT_EQ(line.back(), '\n');
  const auto entry = nlohmann::json::parse(line);
  EXPECT_TRUE(entry["backend"].is_null());
  EXPECT_EQ(entry["attempts"], 3);
  EXPECT_EQ(entry["end"], "connect-failed");
  const auto& attempts = entry["failed_attempts"];
  ASSERT_EQ(attempts.size(), 3U);
  EXPECT_EQ(attempts[0]["backend"], "tcp://127.0.0.1:9001");
  EXPECT_EQ(attempts[0]["reason"], "refused");
  EXPECT_EQ(attempts[1]["backend"], "tcp://127.0.0.1:9002");
  EXPECT_EQ(attempts[1]["reason"], "timeout");
  EXPECT_EQ(attempts[2]["reason"], "empty-response");
}

TEST(AccessLogTest, NoFailureIsAnEmptyList) {
  AccessRecord record;
  record.listener = "front";
  record.client = "127.0.0.1:5000";
  record.backend = "tcp://127.0.0.1:9001";
  record.attempts = 1;
  const auto entry = nlohmann::json::parse(AccessLog::formatLine(record));
  EXPECT_EQ(entry["backend"], "tcp://127.0.0.1:9001");
  EXPECT_TRUE(entry["failed_attempts"].is_array());
  EXPECT_TRUE(entry["failed_attempts"].empty());
  EXPECT_EQ(entry["end"], "completed");
}

TEST(AccessLogTest, BackendNamesAreEscaped) {
  const std::array<FailedAttempt, 1> failed = {{{"unix:///run/a\"b\\c\n", ECONNREFUSED}}};
  const auto entry = nlohmann::json::parse(AccessLog::formatLine(failedRecord(failed)));
  EXPECT_EQ(entry["failed_attempts"][0]["backend"], "unix:///run/a\"b\\c\n");
}

TEST(AccessLogTest, AttemptFailureNames) {
  EXPECT_EQ(attemptFailureName(ECONNREFUSED), "refused");
  EXPECT_EQ(attemptFailureName(ETIMEDOUT), "timeout");
  EXPECT_EQ(attemptFailureName(ECONNRESET), "reset");
  EXPECT_EQ(attemptFailureName(EPROTO), "refused-greeting");
  EXPECT_EQ(attemptFailureName(EMFILE), "EMFILE");  // the errno's own name otherwise
  EXPECT_EQ(endReasonName(EndReason::kConnectFailed), "connect-failed");
  EXPECT_EQ(endReasonName(EndReason::kNoBackend), "no-backend");
}

TEST(AccessLogTest, PoolServerNameAndTimesOfAConnectedSession) {
  AccessRecord record;
  record.listener = "tls";
  record.client = "127.0.0.1:5000";
  record.backend = "tcp://127.0.0.1:9001";
  record.pool = "api";
  record.sni = "api.example.com";
  record.connect_ms = 3;
  record.first_byte_ms = 12;
  const auto entry = nlohmann::json::parse(AccessLog::formatLine(record));
  EXPECT_EQ(entry["pool"], "api");
  EXPECT_EQ(entry["sni"], "api.example.com");
  EXPECT_EQ(entry["connect_ms"], 3);
  EXPECT_EQ(entry["first_byte_ms"], 12);
}

TEST(AccessLogTest, TimesNeverReachedAreNull) {
  AccessRecord record;
  record.listener = "front";
  record.client = "127.0.0.1:5000";
  record.pool = "back";
  record.end = EndReason::kNoBackend;
  const auto entry = nlohmann::json::parse(AccessLog::formatLine(record));
  EXPECT_TRUE(entry["sni"].is_null());
  EXPECT_TRUE(entry["connect_ms"].is_null());
  EXPECT_TRUE(entry["first_byte_ms"].is_null());
}

// Regression (fault suite, scenario 13): a write to a full disk was ignored, so the lines lost
// were neither counted nor reported. /dev/full fails every write with ENOSPC.
TEST(AccessLogTest, LinesAFullDiskRefusesAreCountedAsDropped) {
  auto log = AccessLog::open("/dev/full");
  ASSERT_TRUE(log) << log.error().message();
  AccessRecord record;
  record.listener = "front";
  record.client = "127.0.0.1:1";
  EXPECT_EQ(log->dropped(), 0u);
  log->write(record);
  log->write(record);
  EXPECT_EQ(log->dropped(), 2u);
}

TEST(AccessLogTest, WrittenLinesAreNotCountedAsDropped) {
  auto log = AccessLog::open("/dev/null");
  ASSERT_TRUE(log);
  AccessRecord record;
  record.listener = "front";
  log->write(record);
  EXPECT_EQ(log->dropped(), 0u);
}

}  // namespace
}  // namespace l4lb::proxy
