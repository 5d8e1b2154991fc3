#include "config/toml_guard.h"

#include <gtest/gtest.h>

#include <string>
#include <string_view>

#include "config/loader.h"

namespace l4lb::config {
namespace {

using namespace std::string_view_literals;

TEST(TomlGuardTest, NonAsciiInStringsAndCommentsIsFine) {
  for (std::string_view text : {
           "name = \"caf\xC3\xA9\"  # \xC2\xA7 comment\n"sv, "'\xC3\xA9' = '\xC2\xA7'\n"sv,
           "s = \"\"\"\n\xC2\xA7\n\"\"\"\n"sv,
           "s = '''\\\n\xC2\xA7'''\n"sv,  // literal strings have no escapes
           "s = \"a\\\"\xC2\xA7\"\n"sv,
           "s = \"\"\"a\\\"\"\"b\xC2\xA7\"\"\"\n"sv,     // \" does not close the string
           "s = \"\"\"a\"\"\"\"\nt = \"\xC2\xA7\"\n"sv,  // four quotes: one is content
           "\xEF\xBB\xBFx = 1\n"sv,                      // byte order mark
       }) {
    auto found = findTextTomlppMishandles(text);
    EXPECT_FALSE(found.has_value()) << text << " -> " << found->message;
  }
}

TEST(TomlGuardTest, NonAsciiOutsideStringsIsASyntaxError) {
  auto found = findTextTomlppMishandles("x = 1\n  \xC3\xA9 = 2\n");
  ASSERT_TRUE(found.has_value());
  EXPECT_EQ(found->pos.line, 2U);
  EXPECT_EQ(found->pos.column, 3U);
  EXPECT_EQ(found->message, "TOML syntax error: non-ASCII character outside a string or comment");

  // Columns count characters, not bytes.
  found = findTextTomlppMishandles("s = \"\xC3\xA9\xC3\xA9\" \xC2\xA7\n");
  ASSERT_TRUE(found.has_value());
  EXPECT_EQ(found->pos.column, 10U);
}

TEST(TomlGuardTest, NonAsciiAfterBackslashInMultiLineString) {
  for (std::string_view text :
       {"s = \"\"\"\\\n\xC2\xA7\"\"\"\n"sv, "s = \"\"\"\\  \n \xC2\xA7\"\"\"\n"sv,
        "s = \"\"\"\\\xC2\xA7\"\"\"\n"sv}) {
    auto found = findTextTomlppMishandles(text);
    ASSERT_TRUE(found.has_value()) << text;
    EXPECT_NE(found->message.find("\\uXXXX"), std::string::npos);
  }
}

// Regression guards: inputs that sent toml++ 3.3 into __builtin_unreachable() (upstream issues
// #190 and #295; the last was found by config_fuzz). They must come back as one syntax error.
TEST(TomlGuardTest, UpstreamReproducersAreSyntaxErrors) {
  struct Case {
    std::string_view text;
    std::uint32_t line;
  };
  for (const Case& c :
       {Case{"s = \"\"\"\\\n\xC2\xA7\"\"\"\n"sv, 2}, Case{"\xCC\xAA"sv, 1},
        Case{"\xEF\xBB\xAFobal]\nworkers = 0\n"sv, 1}, Case{"a\xC2\xA0= 1\n"sv, 1}}) {
    LoadResult result = loadConfigText(c.text, "t.toml");
    ASSERT_EQ(result.errors.size(), 1U) << c.text;
    EXPECT_EQ(result.errors[0].message.rfind("TOML syntax error: ", 0), 0U)
        << result.errors[0].format();
    EXPECT_EQ(result.errors[0].line, c.line) << result.errors[0].format();
  }
}

}  // namespace
}  // namespace l4lb::config
