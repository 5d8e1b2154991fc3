#include "config/admin_lookup.h"

#include <fmt/format.h>
#include <toml++/toml.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <regex>
#include <sstream>

#include "config/error_list.h"
#include "config/loader.h"
#include "config/read_admin.h"
#include "config/table_reader.h"
#include "config/toml_guard.h"

namespace l4lb::config {

namespace {

// What may be a table header line, [name] or [[name]], even a broken one ("[pool.web"): the
// [admin] table ends there.
const std::regex& tableHeader() {
  static const std::regex header(R"(^\s*\[.*)");
  return header;
}

const std::regex& adminHeader() {
  static const std::regex header(R"(^\s*\[\s*admin\s*\]\s*(#.*)?$)");
  return header;
}

// The lines of the [admin] table alone, every other line left empty so that positions in it
// are those in the whole text; none when there is no [admin] header.
std::optional<std::string> adminTableAlone(std::string_view text) {
  std::istringstream lines{std::string(text)};
  std::string line;
  std::string alone;
  bool found = false;
  bool inside = false;
  while (std::getline(lines, line)) {
    if (std::regex_match(line, tableHeader())) {
      inside = std::regex_match(line, adminHeader());
      found |= inside;
    }
    if (inside) alone += line;
    alone += '\n';
  }
  if (!found) return std::nullopt;
  return alone;
}

// [admin] read from a TOML document that parsed: only `listen` must be right (a token_file ctl
// cannot read, or an unknown key, is another matter: the API's own answers will tell).
AdminLookup readAdminOf(const toml::table& root, const std::string& source) {
  AdminLookup lookup;
  const toml::node* node = root.get("admin");
  if (node == nullptr) {
    lookup.admin = defaultAdminConfig();
    return lookup;
  }
  const toml::table* table = node->as_table();
  if (table == nullptr) {
    lookup.why_not = fmt::format("{}: admin is not a table", source);
    return lookup;
  }
  ErrorList errors(source);
  AdminConfig admin = defaultAdminConfig();
  readAdmin(*table, net::parseEndpoint, errors, admin);
  for (const ConfigError& error : std::move(errors).take()) {
    if (error.key.rfind("admin.listen", 0) == 0) {
      lookup.why_not = error.format();
      return lookup;
    }
  }
  lookup.admin = std::move(admin);
  return lookup;
}

// The first syntax error of `text`, or none when it parses (then `root` holds it).
std::optional<ConfigError> parseToml(std::string_view text, const std::string& source,
                                     toml::table& root) {
  ErrorList errors(source);
  if (auto mishandled = findTextTomlppMishandles(text)) {
    errors.add(mishandled->pos, "", std::move(mishandled->message));
    return std::move(errors).take().front();
  }
  try {
    root = toml::parse(text, source);
  } catch (const toml::parse_error& e) {
    errors.add(positionOf(e.source()), "", fmt::format("TOML syntax error: {}", e.description()));
    return std::move(errors).take().front();
  }
  return std::nullopt;
}

}  // namespace

AdminLookup findAdminConfigInText(std::string_view text, const std::string& source) {
  LoadResult loaded = loadConfigText(text, source);
  if (loaded.ok())
    return AdminLookup{.admin = loaded.config->admin, .why_not = {}, .file_errors = {}};
  AdminLookup lookup;
  toml::table root;
  if (auto syntax = parseToml(text, source, root); !syntax) {
    lookup = readAdminOf(root, source);
  } else if (auto alone = adminTableAlone(text)) {
    // The syntax error may be in another table: [admin] is parsed apart from it.
    if (auto in_admin = parseToml(*alone, source, root)) {
      lookup.why_not = fmt::format("{} (in the [admin] table)", in_admin->format());
    } else {
      lookup = readAdminOf(root, source);
    }
  } else {
    lookup.why_not = fmt::format(
        "{} (and no [admin] table that can be read apart from it: if the file has none, the "
        "API is at the default, --socket {})",
        syntax->format(), kDefaultAdminListen);
  }
  lookup.file_errors = std::move(loaded.errors);
  return lookup;
}

AdminLookup findAdminConfig(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return AdminLookup{.admin = std::nullopt,
                       .why_not = fmt::format("cannot open {}: {}", path, std::strerror(errno)),
                       .file_errors = {}};
  }
  std::ostringstream text;
  text << in.rdbuf();
  return findAdminConfigInText(text.str(), path);
}

}  // namespace l4lb::config
