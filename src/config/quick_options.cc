#include <fmt/format.h>

#include "config/draft.h"
#include "config/error_list.h"
#include "config/limits.h"
#include "config/loader.h"
#include "config/suggest.h"

namespace l4lb::config {

namespace {

constexpr std::string_view kSource = "<command line>";
constexpr std::string_view kQuickName = "quick";

// Flags have no line or column; the key names the flag instead ("--backend[1]").
Origin flag(std::string key) { return Origin{.key = std::move(key), .pos = {}}; }

// Quick mode has no token file, so its admin API listens on unix:// sockets only.
void readAdminFlags(const QuickOptions& options, const EndpointParser& parse, ErrorList& errors,
                    ConfigDraft& draft) {
  for (std::size_t i = 0; i < options.admin.size(); ++i) {
    const Origin where = flag(fmt::format("--admin[{}]", i));
    auto parsed = parse(options.admin[i]);
    if (!parsed) {
      errors.add(where, parsed.error().message());
    } else if (parsed->kind != net::EndpointKind::kUnix) {
      errors.add(where, fmt::format("quick mode's admin API listens on unix:///PATH only, not {}",
                                    quoteText(options.admin[i])));
    } else {
      draft.config.admin.listen.push_back(std::move(parsed).value());
    }
  }
}

// The one pool, "quick": --balance and every --backend.
PoolDraft quickPool(const QuickOptions& options, const EndpointParser& parse, ErrorList& errors) {
  PoolDraft pool;
  pool.config.name = std::string(kQuickName);
  pool.balance = flag("--balance");
  pool.backends_origin = flag("--backend");
  if (auto algorithm = balance::parseAlgorithm(options.balance)) {
    pool.config.balance = *algorithm;
  } else {
    errors.add(pool.balance, fmt::format("invalid value {}: expected {}{}",
                                         quoteText(options.balance), quotedList(algorithmNames()),
                                         didYouMean(options.balance, algorithmNames())));
  }
  for (std::size_t i = 0; i < options.backends.size(); ++i) {
    BackendDraft backend;
    backend.name = flag(fmt::format("--backend[{}]", i));
    // Named by their address, as in a file; there is no name flag to suggest instead.
    backend.name_defaulted = false;
    backend.config.name = options.backends[i];
    auto parsed = parse(options.backends[i]);
    if (!parsed) {
      errors.add(backend.name, parsed.error().message());
    } else {
      backend.config.address = std::move(parsed).value();
      backend.address = backend.name;
      backend.address_ok = true;
    }
    pool.backends.push_back(std::move(backend));
  }
  return pool;
}

// The one listener, "quick", on --listen.
void readListenFlag(const QuickOptions& options, const EndpointParser& parse, ErrorList& errors,
                    ConfigDraft& draft) {
  if (options.listen.empty()) {
    errors.add(flag("--listen"), "missing: give the address to listen on, e.g. tcp://0.0.0.0:8080");
    draft.listeners_reported = true;
  } else {
    ListenerDraft listener;
    listener.config.name = std::string(kQuickName);
    listener.config.pool = std::string(kQuickName);
    listener.name = flag("--listen");
    listener.bind = flag("--listen");
    listener.pool = flag("--listen");
    listener.pool_set = true;
    auto parsed = parse(options.listen);
    if (!parsed) {
      errors.add(listener.bind, parsed.error().message());
    } else {
      listener.config.bind = std::move(parsed).value();
      listener.bind_ok = true;
    }
    draft.listeners.push_back(std::move(listener));
  }
}

}  // namespace

LoadResult configFromQuickOptions(const QuickOptions& options) {
  const EndpointParser parse = net::parseEndpoint;
  ErrorList errors{std::string(kSource)};
  ConfigDraft draft;
  draft.config.source = std::string(kSource);
  draft.listeners_origin = flag("--listen");

  if (options.workers) {
    if (*options.workers > kMaxWorkers) {
      errors.add(flag("--workers"),
                 fmt::format("must be between 0 and {}, got {}", kMaxWorkers, *options.workers));
    } else {
      draft.config.global.workers = *options.workers;
    }
  }

  readAdminFlags(options, parse, errors, draft);
  draft.pools.push_back(quickPool(options, parse, errors));
  readListenFlag(options, parse, errors, draft);

  Config config = finishDraft(std::move(draft), errors);
  if (!errors.empty())
    return LoadResult{.config = std::nullopt, .errors = std::move(errors).take(), .warnings = {}};
  return LoadResult{.config = std::move(config), .errors = {}, .warnings = {}};
}

}  // namespace l4lb::config
