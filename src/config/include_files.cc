#include "config/include_files.h"

#include <glob.h>

#include <map>
#include <utility>

#include "config/table_reader.h"
#include "config/text_file.h"
#include "config/toml_guard.h"

namespace l4lb::config {

namespace {

// An included file with more patterns than this is a mistake (a glob over /), not a config.
constexpr std::size_t kMaxIncludedFiles = 1000;

std::string directoryOf(const std::string& path) {
  const auto slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  return slash == 0 ? "/" : path.substr(0, slash);
}

bool hasWildcard(const std::string& pattern) {
  return pattern.find_first_of("*?[") != std::string::npos;
}

// The files one pattern names, in name order (glob(3) sorts).
std::vector<std::string> filesOf(const std::string& pattern, const Origin& where,
                                 ErrorList& errors) {
  glob_t found{};
  const int rc = ::glob(pattern.c_str(), GLOB_ERR, nullptr, &found);
  std::vector<std::string> files;
  if (rc == 0) {
    for (std::size_t i = 0; i < found.gl_pathc; ++i) files.emplace_back(found.gl_pathv[i]);
  } else if (rc == GLOB_NOMATCH) {
    // An empty conf.d is normal; a file named outright that is missing is not.
    if (!hasWildcard(pattern)) {
      errors.add(where, fmt::format("no such file: {}", quoteText(pattern)));
    }
  } else {
    errors.add(where,
               fmt::format("cannot read the files {} names ({})", quoteText(pattern),
                           rc == GLOB_ABORTED ? "a directory could not be read" : "out of memory"));
  }
  ::globfree(&found);
  return files;
}

// Where a node of another file was written, as "FILE:LINE".
std::string placeOf(const toml::node& node) {
  const toml::source_region& where = node.source();
  return fmt::format("{}:{}", where.path ? *where.path : std::string("?"), where.begin.line);
}

void mergeFile(toml::table& root, toml::table&& included, ErrorList& errors) {
  for (auto&& [key, node] : included) {
    const Origin origin{.key = std::string(key.str()), .pos = positionOf(node.source())};
    if (key.str() == "listener") {
      toml::array* listeners = node.as_array();
      if (listeners == nullptr) continue;  // readDraft reports it in place, as for the main file
      if (!root.contains("listener")) root.insert("listener", toml::array{});
      toml::array* into = root["listener"].as_array();
      if (into == nullptr) continue;  // the main file's own error
      for (auto& listener : *listeners) into->push_back(std::move(listener));
    } else if (key.str() == "pool") {
      toml::table* pools = node.as_table();
      if (pools == nullptr) continue;
      if (!root.contains("pool")) root.insert("pool", toml::table{});
      toml::table* into = root["pool"].as_table();
      if (into == nullptr) continue;
      for (auto&& [name, pool] : *pools) {
        if (const toml::node* already = into->get(name.str())) {
          errors.add(Origin{.key = childKey("pool", name.str()), .pos = positionOf(pool.source())},
                     fmt::format("pool {} is defined again here; first at {}",
                                 quoteText(name.str()), placeOf(*already)));
          continue;
        }
        into->insert(name, std::move(pool));
      }
    } else if (key.str() == "include") {
      errors.add(origin, "includes do not nest: list every file in the main config's include");
    } else {
      errors.add(origin, fmt::format("an included file holds [[listener]] entries and "
                                     "[pool.NAME] tables only; {} belongs in the main config",
                                     quoteText(key.str())));
    }
  }
}

}  // namespace

std::vector<std::string> mergeIncludes(toml::table& root, const std::string& including_file,
                                       ErrorList& errors) {
  std::vector<std::string> read;
  const toml::node* include = root.get("include");
  if (include == nullptr) return read;
  const Origin origin{.key = "include", .pos = positionOf(include->source())};
  const toml::array* patterns = include->as_array();
  if (patterns == nullptr) {
    errors.add(origin, fmt::format("expected an array of file patterns like "
                                   "[\"conf.d/*.toml\"], got {}",
                                   describe(*include)));
    return read;
  }
  std::vector<std::pair<std::string, Origin>> files;
  for (std::size_t i = 0; i < patterns->size(); ++i) {
    const toml::node& entry = *patterns->get(i);
    const Origin at{.key = indexKey("include", i), .pos = positionOf(entry.source())};
    const auto* text = entry.as_string();
    if (text == nullptr || text->get().empty()) {
      errors.add(at, fmt::format("expected a file pattern like \"conf.d/*.toml\", got {}",
                                 describe(entry)));
      continue;
    }
    std::string pattern = text->get();
    if (pattern.front() != '/') pattern = directoryOf(including_file) + "/" + pattern;
    for (std::string& file : filesOf(pattern, at, errors)) {
      files.emplace_back(std::move(file), at);
    }
  }
  if (files.size() > kMaxIncludedFiles) {
    errors.add(origin,
               fmt::format("names {} files; at most {} are read", files.size(), kMaxIncludedFiles));
    return read;
  }
  std::map<std::string, bool> seen;
  for (auto& [file, at] : files) {
    if (file == including_file || !seen.emplace(file, true).second) {
      errors.add(at, fmt::format("{} is included twice (or is the main config)", quoteText(file)));
      continue;
    }
    auto text = readTextFile(file);
    if (!text) {
      errors.add(at, fmt::format("{}: {}", quoteText(file), text.error().message()));
      continue;
    }
    if (auto mishandled = findTextTomlppMishandles(text.value())) {
      errors.add(ConfigError{.file = file,
                             .line = mishandled->pos.line,
                             .column = mishandled->pos.column,
                             .key = "",
                             .message = std::move(mishandled->message)});
      continue;
    }
    // toml++ reports syntax errors by throwing (as in loader.cc): one per file.
    try {
      mergeFile(root, toml::parse(text.value(), file), errors);
    } catch (const toml::parse_error& e) {
      errors.add(ConfigError{.file = file,
                             .line = e.source().begin.line,
                             .column = e.source().begin.column,
                             .key = "",
                             .message = fmt::format("TOML syntax error: {}", e.description())});
      continue;
    }
    read.push_back(file);
  }
  return read;
}

}  // namespace l4lb::config
