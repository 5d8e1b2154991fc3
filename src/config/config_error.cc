#include <fmt/format.h>

#include "config/config.h"

namespace l4lb::config {

std::string ConfigError::format() const {
  std::string out = file;
  if (line != 0) out += fmt::format(":{}:{}", line, column);
  out += ": ";
  // A key is absent only for problems with the file as a whole (unreadable, bad syntax at EOF).
  if (!key.empty()) out += key + ": ";
  out += message;
  return out;
}

}  // namespace l4lb::config
