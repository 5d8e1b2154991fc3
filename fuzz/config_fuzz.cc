// libFuzzer target for the config loader: any bytes must give either a config or a list of
// errors, never a crash, a leak or an escaped exception (toml++ reports syntax errors by
// throwing; the loader must catch them all).
//
// Host names are not resolved (see fuzz_endpoint_filter.h): a tcp:// address whose host is not
// an IP literal gets an error instead.

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "config/load_options.h"
#include "config/loader.h"
#include "fuzz_endpoint_filter.h"

namespace {

l4lb::base::Result<l4lb::net::Endpoint> parseWithoutDns(std::string_view url) {
  if (l4lb::fuzz::wouldResolve(url))
    return l4lb::base::failure("host names are not resolved while fuzzing");
  return l4lb::net::parseEndpoint(url);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  l4lb::config::LoadOptions options;
  options.parse_endpoint = parseWithoutDns;
  l4lb::config::LoadResult result = l4lb::config::loadConfigText(text, "fuzz.toml", options);

  // The loader's contract: a config exactly when there are no errors, and every error placed.
  if (result.ok() != result.errors.empty()) std::abort();
  for (const l4lb::config::ConfigError& error : result.errors) {
    if (error.file != "fuzz.toml" || error.message.empty()) std::abort();
    if (error.format().empty()) std::abort();
  }
  if (result.ok()) {
    const l4lb::config::Config& config = *result.config;
    if (config.listeners.empty()) std::abort();
    for (const auto& listener : config.listeners) {
      if (listener.pool_index >= config.pools.size()) std::abort();
      if (config.pools[listener.pool_index].name != listener.pool) std::abort();
      if (!listener.bind.isStream()) std::abort();
    }
    for (const auto& pool : config.pools) {
      if (pool.backends.empty()) std::abort();
    }
  }
  return 0;
}
