#include <gtest/gtest.h>

#include <string>

#include "proto/printable.h"

namespace l4lb::proto {
namespace {

TEST(RedactSecretTest, EveryEchoIsReplaced) {
  EXPECT_EQ(redactSecret("AUTH answered \"-ERR invalid password SuperSecretPw and SuperSecretPw\"",
                         "SuperSecretPw"),
            "AUTH answered \"-ERR invalid password <redacted> and <redacted>\"");
  EXPECT_EQ(redactSecret("connected", ""), "connected");
  EXPECT_EQ(redactSecret("connected", "SuperSecretPw"), "connected");
}

TEST(RedactSecretTest, EscapedFormIsReplaced) {
  const std::string secret = "pa\x01ss\nword";
  const std::string reason = "reply \"" + printable("-ERR " + secret) + "\"";
  EXPECT_EQ(redactSecret(reason, secret), "reply \"-ERR <redacted>\"");
}

TEST(RedactSecretTest, BeginningCutAtTheLimitIsReplaced) {
  const std::string secret = "SuperSecretPw";
  const std::string reply = "-ERR invalid password for user default: " + secret + " rest";
  const std::string reason = printable(reply, 46);  // cut inside the secret
  ASSERT_NE(reason.find("SuperS..."), std::string::npos) << reason;
  const std::string redacted = redactSecret(reason, secret);
  EXPECT_EQ(redacted.find("Super"), std::string::npos) << redacted;
  EXPECT_NE(redacted.find("<redacted>..."), std::string::npos) << redacted;
  // Two letters say too little to hide.
  EXPECT_EQ(redactSecret("xx Su...", secret), "xx Su...");
}

}  // namespace
}  // namespace l4lb::proto
