#pragma once

#include <fmt/format.h>
#include <toml++/toml.h>

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "base/duration.h"
#include "config/error_list.h"
#include "config/suggest.h"

namespace l4lb::config {

[[nodiscard]] Position positionOf(const toml::source_region& region);

// "parent.key", quoting the key as TOML would if it is not a bare key: pool."my pool".
[[nodiscard]] std::string childKey(std::string_view parent, std::string_view key);
// "parent[index]".
[[nodiscard]] std::string indexKey(std::string_view parent, std::size_t index);

// "an integer", "a string (\"two\")": what a node is, for "expected X, got Y".
[[nodiscard]] std::string describe(const toml::node& node);

// Reads typed values out of one TOML table, reporting each problem (wrong type, out of range,
// not one of the allowed words) with the value's key and position. A getter returns nullopt both
// when the key is absent and when its value was wrong; in the second case the error is already
// reported, and the caller keeps its default and carries on.
class TableReader {
 public:
  // `known` is every key this table may hold; reportUnknownKeys() checks against it.
  TableReader(const toml::table& table, std::string path, std::span<const std::string_view> known,
              ErrorList& errors);

  [[nodiscard]] const std::string& path() const { return path_; }
  // The table itself: its [header] or the '{' of an inline table.
  [[nodiscard]] Origin origin() const;
  // `key` and where its value is, or the table's place when the key is absent.
  [[nodiscard]] Origin originOf(std::string_view key) const;
  [[nodiscard]] const toml::node* node(std::string_view key) const { return table_.get(key); }
  [[nodiscard]] bool has(std::string_view key) const { return node(key) != nullptr; }

  [[nodiscard]] std::optional<std::int64_t> integer(std::string_view key, std::int64_t min,
                                                    std::int64_t max);
  [[nodiscard]] std::optional<std::string> string(std::string_view key);
  [[nodiscard]] std::optional<bool> boolean(std::string_view key);
  // A string that must not be empty (names, paths).
  [[nodiscard]] std::optional<std::string> name(std::string_view key);
  [[nodiscard]] std::optional<base::Duration> duration(std::string_view key, base::Duration min,
                                                       base::Duration max);
  [[nodiscard]] const toml::table* table(std::string_view key, std::string_view expected);
  [[nodiscard]] const toml::array* array(std::string_view key, std::string_view expected);

  // One of a fixed set of words: `parse` maps a word to its value, `valid` lists the words.
  template <typename Parse>
  [[nodiscard]] auto choice(std::string_view key, Parse parse,
                            std::span<const std::string_view> valid)
      -> decltype(parse(std::string_view())) {
    auto text = string(key);
    if (!text) return std::nullopt;
    auto value = parse(*text);
    if (!value) {
      errors_.add(originOf(key), fmt::format("invalid value {}: expected {}{}", quoteText(*text),
                                             quotedList(valid), didYouMean(*text, valid)));
    }
    return value;
  }

  // Reports a required key that is absent.
  void requireKey(std::string_view key, std::string_view what);

  // Reports every key of the table that is not a known one, suggesting the closest known key.
  void reportUnknownKeys();

  [[nodiscard]] ErrorList& errors() { return errors_; }

 private:
  void wrongType(std::string_view key, const toml::node& value, std::string_view expected);

  const toml::table& table_;
  std::string path_;
  std::span<const std::string_view> known_;
  ErrorList& errors_;
};

}  // namespace l4lb::config
