#include <algorithm>

#include "app/server.h"
#include "base/log.h"

namespace l4lb::app {

base::Result<void> Server::preparePacketPath(const config::Config& config) {
  // Made once, before the admin API may read it, even when no listener forwards packets yet (a
  // reload may add one).
  if (!packet_) packet_ = std::make_unique<packet::PacketPath>();
  return packet_->prepare(config);
}

packet::PacketSources Server::packetSources() {
  packet::PacketSources sources;
  {
    std::lock_guard lock(checks_.mutex);
    if (checks_.checker) sources.health = checks_.checker->latest();
  }
  if (admin::Controller* controller = controller_.get()) {
    sources.state = [controller](std::uint32_t pool, std::uint32_t backend) {
      return controller->stateOf(pool, backend);
    };
    sources.weight = [controller](std::uint32_t pool, std::uint32_t backend) {
      return controller->weightOf(pool, backend);
    };
  }
  return sources;
}

void Server::configurePacketPath() {
  if (!packet_) return;
  packet_->configure(serving_->config, packetSources());
}

void Server::updatePacketPath() {
  if (!packet_) return;
  packet_->update(packetSources());
}

}  // namespace l4lb::app
