#include "config/loader.h"

#include <fcntl.h>
#include <toml++/toml.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "base/fd.h"
#include "config/draft.h"
#include "config/error_list.h"
#include "config/load_options.h"
#include "config/read_toml.h"
#include "config/table_reader.h"
#include "config/toml_guard.h"

namespace l4lb::config {

namespace {

// A config larger than this is a mistake (a log file passed by accident), not a config.
constexpr std::size_t kMaxConfigBytes = 16 << 20;

LoadResult failed(ErrorList&& errors) {
  return LoadResult{.config = std::nullopt, .errors = std::move(errors).take()};
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
  ConfigDraft draft = readDraft(root, source, options.parse_endpoint, errors);
  Config config = finishDraft(std::move(draft), errors);
  if (!errors.empty()) return failed(std::move(errors));
  return LoadResult{.config = std::move(config), .errors = {}};
}

LoadResult loadConfigText(std::string_view text, const std::string& source) {
  return loadConfigText(text, source, LoadOptions{});
}

LoadResult loadConfigFile(const std::string& path) {
  ErrorList errors(path);
  base::Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) {
    errors.add(Position{}, "", fmt::format("cannot open config file: {}", std::strerror(errno)));
    return failed(std::move(errors));
  }
  std::string text;
  char buf[64 * 1024];
  for (;;) {
    ssize_t n = ::read(fd.get(), buf, sizeof(buf));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      errors.add(Position{}, "", fmt::format("cannot read config file: {}", std::strerror(errno)));
      return failed(std::move(errors));
    }
    if (n == 0) break;
    text.append(buf, static_cast<std::size_t>(n));
    if (text.size() > kMaxConfigBytes) {
      errors.add(Position{}, "",
                 fmt::format("config file is larger than {} MiB", kMaxConfigBytes >> 20));
      return failed(std::move(errors));
    }
  }
  return loadConfigText(text, path);
}

}  // namespace l4lb::config
