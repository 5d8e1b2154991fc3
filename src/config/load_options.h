#pragma once

#include <functional>
#include <string>
#include <string_view>
#include <variant>

#include "config/loader.h"
#include "net/endpoint.h"

namespace l4lb::config {

// How the loader turns an address string into an endpoint. Normally net::parseEndpoint; the
// fuzzer swaps in one that never calls getaddrinfo, so fuzzing stays fast and offline.
using EndpointParser = std::function<base::Result<net::Endpoint>(std::string_view)>;

struct LoadOptions {
  EndpointParser parse_endpoint = net::parseEndpoint;
  // Follow `include` (loadConfigFile does): off for text from memory (tests, the fuzzer), where
  // an include is an error rather than a read of whatever the pattern names.
  bool read_includes = false;
};

// loadConfigText with non-default options.
[[nodiscard]] LoadResult loadConfigText(std::string_view text, const std::string& source,
                                        const LoadOptions& options);

}  // namespace l4lb::config
