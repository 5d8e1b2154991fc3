#include "app/server.h"
#include "base/log.h"
#include "io/clock.h"

namespace l4lb::app {

base::Result<void> Server::openAnnouncer(const config::Config& config, base::Fd handed) {
  auto announcer = Announcer::open(config, std::move(handed));
  if (!announcer) return announcer.error();
  announcer_ = std::move(announcer).value();
  announcer_->configure(serving_->config, io::monotonicMillis());
  base::logInfo(
      "announce interface \"{}\" {}: VIPs of listeners with announce = true go on it "
      "while served with backends up",
      announcer_->interfaceName(), announcer_->adopted() ? "taken over" : "made");
  return {};
}

void Server::updateAnnouncer(std::int64_t now) {
  if (!announcer_) return;
  AnnounceSources sources;
  {
    std::lock_guard lock(checks_.mutex);
    if (checks_.checker) sources.health = checks_.checker->latest();
  }
  if (admin::Controller* controller = controller_.get()) {
    sources.backend_state = [controller](std::uint32_t pool, std::uint32_t backend) {
      return controller->stateOf(pool, backend);
    };
    sources.listener_withdrawn = [controller](std::string_view listener) {
      return controller->listenerWithdrawn(listener);
    };
  }
  sources.discovery_unsynced = discoveryUnsynced();
  announcer_->update(now, sources);
}

void Server::pokeAnnouncer() {
  if (!announcer_ && !packet_) return;
  loop_->post([this] {
    updateAnnouncer(io::monotonicMillis());
    updatePacketPath();
  });
}

}  // namespace l4lb::app
