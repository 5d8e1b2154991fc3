#pragma once

#include <memory>

#include "config/config.h"
#include "net/endpoint.h"
#include "proto/check_dialog.h"

namespace l4lb::health {

// The conversation one check of `health` holds with the backend at `address`, made afresh for
// every check. nullptr for check = "tcp", where connecting is the whole check.
[[nodiscard]] std::unique_ptr<proto::CheckDialog> makeCheckDialog(
    const config::HealthConfig& health, const config::BackendConfig& backend);

}  // namespace l4lb::health
