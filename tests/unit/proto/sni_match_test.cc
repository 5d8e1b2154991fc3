#include "proto/sni_match.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace l4lb::proto {
namespace {

SniPattern pattern(std::string_view text) {
  auto parsed = SniPattern::parse(text);
  if (!parsed) {
    ADD_FAILURE() << parsed.error().message();
    return SniPattern::parse("invalid.example").value();
  }
  return std::move(parsed).value();
}

std::string error(std::string_view text) {
  auto parsed = SniPattern::parse(text);
  return parsed ? std::string() : parsed.error().message();
}

TEST(SniMatchTest, Exact) {
  const SniPattern p = pattern("WWW.Example.com");
  EXPECT_EQ(p.text(), "www.example.com");
  EXPECT_TRUE(p.matches("www.example.com"));
  EXPECT_TRUE(p.matches("WWW.EXAMPLE.COM"));
  EXPECT_FALSE(p.matches("a.www.example.com"));
  EXPECT_FALSE(p.matches("example.com"));
  EXPECT_FALSE(p.matches(""));
}

// nginx semantics: "*.example.com" matches any depth below, not the name itself.
TEST(SniMatchTest, LeadingWildcardMatchesAnyDepth) {
  const SniPattern p = pattern("*.example.com");
  EXPECT_TRUE(p.matches("a.example.com"));
  EXPECT_TRUE(p.matches("a.b.example.com"));
  EXPECT_FALSE(p.matches("example.com"));
  EXPECT_FALSE(p.matches("badexample.com"));  // what a plain suffix match would accept
  EXPECT_FALSE(p.matches(".example.com"));
  EXPECT_FALSE(p.matches("example.com.evil"));
}

TEST(SniMatchTest, DotPrefixMatchesTheNameAndBelow) {
  const SniPattern p = pattern(".example.com");
  EXPECT_EQ(p.text(), ".example.com");
  EXPECT_TRUE(p.matches("example.com"));
  EXPECT_TRUE(p.matches("x.y.example.com"));
  EXPECT_FALSE(p.matches("xexample.com"));
}

TEST(SniMatchTest, BadPatterns) {
  EXPECT_NE(error("www.*.com").find("'*' is only allowed as a whole first label"),
            std::string::npos);
  EXPECT_NE(error("www.example.*").find("'*'"), std::string::npos);
  EXPECT_NE(error("*example.com").find("'*'"), std::string::npos);
  EXPECT_NE(error("*").find("'*'"), std::string::npos);
  EXPECT_EQ(error("*."), "server name pattern \"*.\": name is empty");
  EXPECT_EQ(error("example.com."), "server name pattern \"example.com.\": name ends with a dot");
  EXPECT_NE(error("exa mple.com").find("not a letter"), std::string::npos);
  EXPECT_NE(error("10.0.0.1").find("IPv4 literal"), std::string::npos);
}

TEST(SniMatchTest, BestMatchFollowsNginxOrder) {
  const std::vector<SniPattern> patterns = {pattern(".example.com"), pattern("*.example.com"),
                                            pattern("*.api.example.com"),
                                            pattern("www.example.com")};
  EXPECT_EQ(bestSniMatch(patterns, "www.example.com"), 3u);     // exact first
  EXPECT_EQ(bestSniMatch(patterns, "v1.api.example.com"), 2u);  // longest wildcard
  EXPECT_EQ(bestSniMatch(patterns, "other.example.com"), 0u);   // tie: earliest
  EXPECT_EQ(bestSniMatch(patterns, "example.com"), 0u);
  EXPECT_EQ(bestSniMatch(patterns, "example.org"), std::nullopt);
  EXPECT_EQ(bestSniMatch(patterns, ""), std::nullopt);  // a hello without server_name
}

}  // namespace
}  // namespace l4lb::proto
