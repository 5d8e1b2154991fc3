#pragma once

#include <gtest/gtest.h>

#include <initializer_list>
#include <string>
#include <string_view>

#include "config/loader.h"

namespace l4lb::config::testing {

// Joins lines with '\n', so a test's line numbers are its list positions plus one.
inline std::string lines(std::initializer_list<std::string_view> text) {
  std::string out;
  for (std::string_view line : text) {
    out += line;
    out += '\n';
  }
  return out;
}

// A listener on pool "p" whose one backend is `backend`; the pool's first key, `pool_line`, is on
// line 6.
inline std::string poolWith(std::string_view pool_line,
                            std::string_view backend = "tcp://127.0.0.1:7001",
                            std::string_view bind = "tcp://127.0.0.1:7000") {
  return lines({"[[listener]]", "bind = \"" + std::string(bind) + "\"", "pool = \"p\"", "",
                "[pool.p]", pool_line,
                "backends = [{ address = \"" + std::string(backend) + "\" }]"});
}

inline std::string describeErrors(const LoadResult& result) {
  std::string out;
  for (const ConfigError& e : result.errors) out += "  " + e.format() + "\n";
  return out.empty() ? "  (no errors)\n" : out;
}

inline const ConfigError* findError(const LoadResult& result, std::string_view key) {
  for (const ConfigError& e : result.errors) {
    if (e.key == key) return &e;
  }
  return nullptr;
}

inline LoadResult load(const std::string& text) { return loadConfigText(text, "test.toml"); }

// A valid listener and pool, appended after each test's lines so only the intended error shows.
inline const std::string kValidTail = lines({
    "[[listener]]",
    "name = \"ok\"",
    "bind = \"tcp://127.0.0.1:7000\"",
    "pool = \"ok\"",
    "[pool.ok]",
    "backends = [{ address = \"tcp://127.0.0.1:7001\" }]",
});

// Expects an error at `key` on `line` whose message contains `text`.
inline void expectError(const LoadResult& result, std::string_view key, std::uint32_t line,
                        std::string_view text) {
  const ConfigError* e = findError(result, key);
  ASSERT_NE(e, nullptr) << "no error for key " << key << "; errors:\n" << describeErrors(result);
  EXPECT_EQ(e->line, line) << e->format();
  EXPECT_NE(e->message.find(text), std::string::npos)
      << "message lacks \"" << text << "\": " << e->format();
  EXPECT_FALSE(result.ok());
}

}  // namespace l4lb::config::testing
