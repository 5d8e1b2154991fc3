#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "config/config.h"

namespace l4lb::config {

// A place in the config text; line 0 means "no single place" (command-line flags, or a
// problem with the file as a whole).
struct Position {
  std::uint32_t line = 0;
  std::uint32_t column = 0;
  // The file, when not the config's main one (a node of an included file); toml++'s own path.
  std::shared_ptr<const std::string> file;
};

// A value's dotted key and where it was written, so an error found later (a duplicate, a
// dangling reference) can still point at it.
struct Origin {
  std::string key;
  Position pos;
};

// Collects every problem found in one config. Nothing stops at the first error: operators fix a
// whole file in one round trip instead of one error per restart.
class ErrorList {
 public:
  explicit ErrorList(std::string file) : file_(std::move(file)) {}

  void add(const Origin& where, std::string message);
  void add(Position pos, std::string key, std::string message);
  void add(ConfigError error);  // an error placed in another file already
  // A problem that does not stop the config (`l4lb check` prints it, `run` logs it).
  void warn(ConfigError warning);

  // `where` as a ConfigError without a message, its file named.
  [[nodiscard]] ConfigError placeOf(const Origin& where) const;

  [[nodiscard]] bool empty() const { return errors_.empty(); }
  [[nodiscard]] std::size_t size() const { return errors_.size(); }

  // The errors in file order; those without a place come last.
  [[nodiscard]] std::vector<ConfigError> take() &&;
  [[nodiscard]] std::vector<ConfigError> takeWarnings() { return std::move(warnings_); }

 private:
  std::string file_;
  std::vector<ConfigError> errors_;
  std::vector<ConfigError> warnings_;
};

}  // namespace l4lb::config
