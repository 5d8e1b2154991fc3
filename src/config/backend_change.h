#pragma once

#include <toml++/toml.h>

#include <cstddef>

#include "config/config.h"
#include "config/loader.h"

namespace l4lb::config {

// The admin API's add-backend: `running` with pool `pool` given the backend `fields` describe
// (the keys of one entry of a pool's `backends`: address, name, weight, backup, max_connections,
// mq_max_messages, mq_message_size). The entry is read, and the pool then checked, by the very
// code that reads and checks the file (the same keys, types, limits and messages, each error
// naming pool.NAME.backends[N].KEY), so the API and the file cannot drift apart. The config with
// the backend, or every error.
[[nodiscard]] LoadResult withBackendAdded(const Config& running, std::size_t pool,
                                          const toml::table& fields);

}  // namespace l4lb::config
