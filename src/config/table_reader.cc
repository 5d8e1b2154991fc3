#include "config/table_reader.h"

#include <algorithm>
#include <limits>
#include <utility>

namespace l4lb::config {

Position positionOf(const toml::source_region& region) {
  return Position{.line = region.begin.line, .column = region.begin.column, .file = region.path};
}

std::string childKey(std::string_view parent, std::string_view key) {
  const bool bare = !key.empty() && std::all_of(key.begin(), key.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '-';
  });
  std::string out(parent);
  if (!out.empty()) out += '.';
  out += bare ? std::string(key) : quoteText(key);
  return out;
}

std::string indexKey(std::string_view parent, std::size_t index) {
  return fmt::format("{}[{}]", parent, index);
}

std::string describe(const toml::node& node) {
  switch (node.type()) {
    case toml::node_type::table: return "a table";
    case toml::node_type::array: return "an array";
    case toml::node_type::string: return "a string (" + quoteText(node.as_string()->get()) + ")";
    case toml::node_type::integer: return fmt::format("an integer ({})", node.as_integer()->get());
    case toml::node_type::floating_point:
      return fmt::format("a float ({})", node.as_floating_point()->get());
    case toml::node_type::boolean: return fmt::format("a boolean ({})", node.as_boolean()->get());
    case toml::node_type::date: return "a date";
    case toml::node_type::time: return "a time";
    case toml::node_type::date_time: return "a date-time";
    case toml::node_type::none: break;
  }
  return "nothing";
}

TableReader::TableReader(const toml::table& table, std::string path,
                         std::span<const std::string_view> known, ErrorList& errors)
    : table_(table), path_(std::move(path)), known_(known), errors_(errors) {}

Origin TableReader::origin() const {
  return Origin{.key = path_, .pos = positionOf(table_.source())};
}

Origin TableReader::originOf(std::string_view key) const {
  const toml::node* value = node(key);
  return Origin{.key = childKey(path_, key),
                .pos = positionOf(value != nullptr ? value->source() : table_.source())};
}

void TableReader::wrongType(std::string_view key, const toml::node& value,
                            std::string_view expected) {
  errors_.add(originOf(key), fmt::format("expected {}, got {}", expected, describe(value)));
}

std::optional<std::int64_t> TableReader::integer(std::string_view key, std::int64_t min,
                                                 std::int64_t max) {
  const toml::node* value = node(key);
  if (value == nullptr) return std::nullopt;
  const auto* number = value->as_integer();
  if (number == nullptr) {
    wrongType(key, *value, "an integer");
    return std::nullopt;
  }
  const std::int64_t n = number->get();
  if (n < min || n > max) {
    errors_.add(originOf(key),
                // A bound as large as an int is a type limit, not a rule worth spelling out.
                max >= std::numeric_limits<int>::max()
                    ? fmt::format("must be at least {}, got {}", min, n)
                    : fmt::format("must be between {} and {}, got {}", min, max, n));
    return std::nullopt;
  }
  return n;
}

std::optional<std::string> TableReader::string(std::string_view key) {
  const toml::node* value = node(key);
  if (value == nullptr) return std::nullopt;
  const auto* text = value->as_string();
  if (text == nullptr) {
    wrongType(key, *value, "a string");
    return std::nullopt;
  }
  return text->get();
}

std::optional<bool> TableReader::boolean(std::string_view key) {
  const toml::node* value = node(key);
  if (value == nullptr) return std::nullopt;
  const auto* flag = value->as_boolean();
  if (flag == nullptr) {
    wrongType(key, *value, "a boolean (true or false)");
    return std::nullopt;
  }
  return flag->get();
}

std::optional<std::string> TableReader::name(std::string_view key) {
  auto text = string(key);
  if (text && text->empty()) {
    errors_.add(originOf(key), "must not be empty");
    return std::nullopt;
  }
  return text;
}

std::optional<base::Duration> TableReader::duration(std::string_view key, base::Duration min,
                                                    base::Duration max) {
  const toml::node* value = node(key);
  if (value == nullptr) return std::nullopt;
  const auto* text = value->as_string();
  if (text == nullptr) {
    // A bare number is the usual mistake: say what it should look like.
    wrongType(key, *value, "a duration string with a unit, like \"250ms\", \"2s\" or \"10m\"");
    return std::nullopt;
  }
  auto parsed = base::parseDuration(text->get());
  if (!parsed) {
    errors_.add(originOf(key),
                fmt::format("invalid duration {}: expected a number and a unit (ms, s, m, h), "
                            "e.g. \"250ms\", \"2s\", \"1m30s\"",
                            quoteText(text->get())));
    return std::nullopt;
  }
  if (*parsed < min || *parsed > max) {
    errors_.add(originOf(key),
                fmt::format("must be between {} and {}, got {}", base::formatDuration(min),
                            base::formatDuration(max), quoteText(text->get())));
    return std::nullopt;
  }
  return parsed;
}

const toml::table* TableReader::table(std::string_view key, std::string_view expected) {
  const toml::node* value = node(key);
  if (value == nullptr) return nullptr;
  if (!value->is_table()) {
    wrongType(key, *value, expected);
    return nullptr;
  }
  return value->as_table();
}

const toml::array* TableReader::array(std::string_view key, std::string_view expected) {
  const toml::node* value = node(key);
  if (value == nullptr) return nullptr;
  if (!value->is_array()) {
    wrongType(key, *value, expected);
    return nullptr;
  }
  return value->as_array();
}

void TableReader::requireKey(std::string_view key, std::string_view what) {
  if (!has(key)) {
    errors_.add(originOf(key), fmt::format("missing required key: {}", what));
  }
}

void TableReader::reportUnknownKeys() {
  for (auto&& [key, value] : table_) {
    if (std::find(known_.begin(), known_.end(), key.str()) != known_.end()) continue;
    Position pos = positionOf(key.source());
    if (pos.line == 0) pos = positionOf(value.source());
    std::string message = "unknown key";
    if (auto match = closestMatch(key.str(), known_)) {
      message += fmt::format(" (did you mean \"{}\"?)", *match);
    } else {
      message += fmt::format("; expected {}", quotedList(known_));
    }
    errors_.add(pos, childKey(path_, key.str()), std::move(message));
  }
}

}  // namespace l4lb::config
