#include "config/loader.h"

#include <toml++/toml.h>

#include "config/draft.h"
#include "config/error_list.h"
#include "config/include_files.h"
#include "config/load_options.h"
#include "config/read_toml.h"
#include "config/table_reader.h"
#include "config/text_file.h"
#include "config/toml_guard.h"

namespace l4lb::config {

namespace {

LoadResult failed(ErrorList&& errors) {
  std::vector<ConfigError> warnings = errors.takeWarnings();
  return LoadResult{
      .config = std::nullopt, .errors = std::move(errors).take(), .warnings = std::move(warnings)};
}

}  // namespace

LoadResult loadConfigText(std::string_view text, const std::string& source,
                          const LoadOptions& options) {
  ErrorList errors(source);
  if (auto mishandled = findTextTomlppMishandles(text)) {
    errors.add(mishandled->pos, "", std::move(mishandled->message));
    return failed(std::move(errors));
  }
  toml::table root;
  // toml++ reports syntax errors by throwing; this is the one place they are caught and turned
  // into ordinary errors. The parser stops at the first syntax error, so there is only one.
  try {
    root = toml::parse(text, source);
  } catch (const toml::parse_error& e) {
    errors.add(positionOf(e.source()), "", fmt::format("TOML syntax error: {}", e.description()));
    return failed(std::move(errors));
  }
  if (options.read_includes) {
    mergeIncludes(root, source, errors);
  } else if (const toml::node* include = root.get("include")) {
    errors.add(positionOf(include->source()), "include",
               "files are included only when the config is read from a file");
  }
  ConfigDraft draft = readDraft(root, source, options.parse_endpoint, errors);
  Config config = finishDraft(std::move(draft), errors);
  if (!errors.empty()) return failed(std::move(errors));
  return LoadResult{.config = std::move(config), .errors = {}, .warnings = errors.takeWarnings()};
}

LoadResult loadConfigText(std::string_view text, const std::string& source) {
  return loadConfigText(text, source, LoadOptions{});
}

LoadResult loadConfigFile(const std::string& path) {
  auto text = readTextFile(path);
  if (!text) {
    ErrorList errors(path);
    errors.add(Position{}, "", text.error().message());
    return failed(std::move(errors));
  }
  return loadConfigText(text.value(), path, LoadOptions{.read_includes = true});
}

}  // namespace l4lb::config
