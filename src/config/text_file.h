#pragma once

#include <string>

#include "base/result.h"

namespace l4lb::config {

// A config file's whole text (the main file or an included one). A file larger than 16 MiB is a
// mistake (a log passed by accident), not a config, and is refused.
[[nodiscard]] base::Result<std::string> readTextFile(const std::string& path);

}  // namespace l4lb::config
