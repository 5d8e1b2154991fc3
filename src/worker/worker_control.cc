// What the control plane tells a worker, applied on its thread: the active checks' verdicts
// (control::HealthSnapshot), the operator's states and weights (control::AdminSnapshot), and the
// ticks that move passive ejections and slow-start ramps on.

#include "balance/maglev.h"
#include "worker/worker.h"

namespace l4lb::worker {

namespace {

// Slow-start ramps move in steps this long; ejections end at most this late.
constexpr std::int64_t kHealthTickMs = 100;

}  // namespace

void Worker::scheduleHealthTicks() {
  if (health_ticker_.scheduled()) return;
  for (const auto& pool : current().pools) {
    if (pool.health->needsTicks()) {
      loop_->timers().schedule(&health_ticker_, loop_->now() + kHealthTickMs);
      return;
    }
  }
}

void Worker::applyHealthTo(Generation& generation, const control::HealthSnapshot& states,
                           const control::HealthSnapshot* before) {
  const std::int64_t now = loop_->now();
  auto& pools = generation.pools;
  for (std::size_t p = 0; p < pools.size() && p < states.pools.size(); ++p) {
    const auto& pool = states.pools[p];
    for (std::uint32_t b = 0; b < pool.size() && b < pools[p].config->backends.size(); ++b) {
      const control::BackendState was =
          before != nullptr ? before->pools[p][b] : control::BackendState::kUnknown;
      if (pool[b] == was) continue;
      // Draining and disabled take no new connections either.
      pools[p].health->setActiveUp(b, pool[b] == control::BackendState::kUp,
                                   /*ramp=*/was != control::BackendState::kUnknown, now);
    }
  }
}

void Worker::applyHealth(std::shared_ptr<const control::HealthSnapshot> states) {
  applyHealthTo(current(), *states, health_.get());
  health_ = std::move(states);
}

void Worker::applyAdmin(std::shared_ptr<const control::AdminSnapshot> snapshot) {
  const std::int64_t now = loop_->now();
  Generation& generation = current();
  const auto& config = generation.config();
  for (std::size_t p = 0; p < generation.pools.size() && p < snapshot->states.size(); ++p) {
    const auto& pool = config.pools[p];
    auto& state = generation.pools[p];
    const bool maglev = pool.balance == balance::Algorithm::kMaglev;
    const std::uint32_t scale = proxy::weightScale(pool);
    for (std::uint32_t b = 0; b < snapshot->states[p].size() && b < pool.backends.size(); ++b) {
      const control::AdminState now_state = snapshot->states[p][b];
      const control::AdminState before =
          admin_ ? admin_->states[p][b] : control::AdminState::kEnabled;
      if (now_state != before) {
        state.health->setAdminAllowed(b, control::adminAllowsNew(now_state), now);
      }
      const std::uint32_t weight = snapshot->weights[p][b] * scale;
      if (weight != state.health->fullWeight(b)) state.health->setFullWeight(b, weight, now);
    }
    if (maglev && snapshot->maglev_tables[p] &&
        (!admin_ || admin_->maglev_tables[p] != snapshot->maglev_tables[p])) {
      static_cast<balance::MaglevBalancer&>(*state.balancer).setTable(snapshot->maglev_tables[p]);
    }
  }
  admin_ = std::move(snapshot);
}

void Worker::tickHealth() {
  const std::int64_t now = loop_->now();
  // Only the newest generation picks backends for new connections; older ones keep what they
  // counted for their sessions' retries.
  bool needed = false;
  for (auto& pool : current().pools) {
    if (!pool.health->needsTicks()) continue;
    pool.health->tick(now);
    needed = true;
  }
  if (needed) loop_->timers().schedule(&health_ticker_, now + kHealthTickMs);
}

}  // namespace l4lb::worker
