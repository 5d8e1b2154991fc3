#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "config/error_list.h"

namespace l4lb::config {

struct TomlGuardError {
  Position pos;
  std::string message;
};

// Finds text that toml++ 3.3 (the Debian version) would mishandle before handing it over. Its
// whitespace classifier reaches __builtin_unreachable() for many non-ASCII code points (upstream
// marzer/tomlplusplus issues #190 and #295, fixed after 3.3), and the parser asks it about every
// character it meets outside strings and after a backslash in a multi-line string. None of
// those characters is valid TOML there, so rejecting them first changes no valid config except
// one with a raw non-ASCII character right after a backslash in a """string""".
//
// A small lexer: it tracks comments and the four kinds of strings. It only has to agree with
// toml++ on text that is valid so far, because toml++ stops at the first error.
[[nodiscard]] std::optional<TomlGuardError> findTextTomlppMishandles(std::string_view text);

}  // namespace l4lb::config
