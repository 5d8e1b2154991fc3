#pragma once

// The balancers a config's pools are built with: the weights their balancers see, and one plan
// per pool (with its Maglev table), built once per config and instantiated by every worker.

#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "balance/balancer.h"
#include "balance/maglev_table.h"
#include "config/config.h"

namespace l4lb::proxy {

// Weights are multiplied by this in pools with slow_start, so a ramp has steps to climb.
inline constexpr std::uint32_t kSlowStartScale = 100;

// What a pool's weights are multiplied by in its balancers (kSlowStartScale or 1): slow start
// needs weights finer than the configured ones to ramp through (a weight of 1 cannot grow), and
// scaling keeps every ratio. Maglev's table is fixed, so there slow start only applies as 0
// versus non-zero and the weights stay as written.
[[nodiscard]] std::uint32_t weightScale(const config::PoolConfig& pool);

// The pool's backends as its balancers see them: names, weights (`weights`, in the config's
// units: the operator's, or the config's when empty) times weightScale(), backup flags. Every
// balancer plan and Maglev table is built from this.
[[nodiscard]] std::vector<balance::BackendSlot> balancerSlots(
    const config::PoolConfig& pool, std::span<const std::uint32_t> weights = {});

// One plan per config.pools[i], from balancerSlots(pool). Off the data path: Maglev tables are
// built here, once per config (worker::ServingConfig holds them).
[[nodiscard]] std::vector<std::shared_ptr<const balance::BalancerPlan>> planPools(
    const config::Config& config);

// Each plan's Maglev table (null for the other algorithms): the tables the workers use until an
// operator changes a weight, which the admin API digests and looks clients up in.
[[nodiscard]] std::vector<std::shared_ptr<const balance::MaglevTable>> maglevTables(
    std::span<const std::shared_ptr<const balance::BalancerPlan>> plans);

}  // namespace l4lb::proxy
