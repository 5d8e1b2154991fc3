#include "config/error_list.h"

#include <algorithm>
#include <limits>
#include <tuple>
#include <utility>

namespace l4lb::config {

void ErrorList::add(const Origin& where, std::string message) {
  add(where.pos, where.key, std::move(message));
}

void ErrorList::add(Position pos, std::string key, std::string message) {
  errors_.push_back(ConfigError{.file = pos.file ? *pos.file : file_,
                                .line = pos.line,
                                .column = pos.column,
                                .key = std::move(key),
                                .message = std::move(message)});
}

void ErrorList::add(ConfigError error) { errors_.push_back(std::move(error)); }

void ErrorList::warn(ConfigError warning) { warnings_.push_back(std::move(warning)); }

ConfigError ErrorList::placeOf(const Origin& where) const {
  return ConfigError{.file = where.pos.file ? *where.pos.file : file_,
                     .line = where.pos.line,
                     .column = where.pos.column,
                     .key = where.key,
                     .message = {}};
}

std::vector<ConfigError> ErrorList::take() && {
  // toml++ tables iterate in key order, not file order; sorting puts errors back in the order an
  // operator reads the files: the main one first, then each included one.
  auto rank = [this](const ConfigError& e) {
    return std::tuple(e.file != file_, e.file,
                      e.line == 0 ? std::numeric_limits<std::uint32_t>::max() : e.line, e.column);
  };
  std::stable_sort(errors_.begin(), errors_.end(),
                   [&](const ConfigError& a, const ConfigError& b) { return rank(a) < rank(b); });
  return std::move(errors_);
}

}  // namespace l4lb::config
