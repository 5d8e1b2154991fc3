#pragma once

// Announcing VIPs (README.md, "Announcing VIPs"): l4lb speaks no BGP; it puts the address of each
// listener with `announce = true` on its own TUN interface while the listener should be announced
// (control/announce_state.h decides), and a routing daemon (BIRD's `protocol direct`) exports the
// interface's addresses. The interface dies with l4lb's last descriptor of it, so a crash
// withdraws every VIP; a binary upgrade hands the descriptor on, so an upgrade changes nothing.
// Main thread only, but views(), which the admin thread reads.

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/fd.h"
#include "base/result.h"
#include "config/config.h"
#include "control/announce_state.h"
#include "net/cidr.h"
#include "net/route_netlink.h"
#include "net/tun_device.h"

namespace l4lb::app {

// What the announcer reads, each update, from the rest of l4lb.
struct AnnounceSources {
  std::shared_ptr<const control::HealthSnapshot> health;  // the checks' latest; null: none yet
  // The operator's state of a backend of the config served; unset: all enabled (no admin API).
  std::function<control::AdminState(std::uint32_t pool, std::uint32_t backend)> backend_state;
  // Whether the operator drained or disabled a listener; unset: never.
  std::function<bool(std::string_view listener)> listener_withdrawn;
  // The pools whose discover source has not had an authoritative answer applied yet, by name:
  // the source's state and message. Their VIPs wait (control::AnnounceInputs::discovery_synced).
  std::map<std::string, std::string, std::less<>> discovery_unsynced;
};

class Announcer {
 public:
  // Makes the interface [global] announce_interface names, or adopts `handed` (a binary upgrade:
  // the old process's, whose addresses stay and start as announced).
  [[nodiscard]] static base::Result<std::unique_ptr<Announcer>> open(const config::Config& config,
                                                                     base::Fd handed);

  // Which listeners announce, and how (start, and each reload). A listener kept by name and VIP
  // keeps its state; the address of one that is gone is taken off at the next update.
  void configure(const config::Config& config, std::int64_t now_ms);
  // The listeners listen (true, once start() cannot fail) or no longer do.
  void setServing(bool serving) { serving_ = serving; }
  // Brings every VIP's decision up to date and the interface's addresses with them.
  void update(std::int64_t now_ms, const AnnounceSources& sources);
  // SIGTERM: every VIP withdrawn now, for good. Answers whether any had been announced.
  bool stop(std::int64_t now_ms);
  // A binary upgrade handed the interface on (true): the new process owns its addresses from now
  // on, this one changes none of them; false: the upgrade failed, they are this one's again.
  void setHandedOff(bool handed_off) { handed_off_ = handed_off; }

  [[nodiscard]] int fd() const { return device_.fd(); }
  // The interface was handed over by the process before this one (not made here).
  [[nodiscard]] bool adopted() const { return adopted_; }
  [[nodiscard]] const std::string& interfaceName() const { return device_.name(); }
  // Thread-safe: what the admin API and the metrics show.
  [[nodiscard]] std::vector<control::AnnounceView> views() const;

 private:
  struct Vip {
    std::string listener;
    std::uint32_t pool = 0;
    net::Cidr address;
    std::string address_text;
    std::uint32_t min_backends = 1;
    control::AnnounceState state;
    std::uint32_t backends_up = 0;
    std::string discovery;  // why its pool's discover source has not synced; empty: it has
  };

  Announcer(net::TunDevice device, net::RouteNetlink netlink, std::vector<net::Cidr> present)
      : device_(std::move(device)), netlink_(std::move(netlink)), present_(std::move(present)) {}

  // Puts on the interface the addresses of announced VIPs and takes off the others.
  void reconcile(std::int64_t now_ms);
  void publishViews(std::int64_t now_ms);

  net::TunDevice device_;
  net::RouteNetlink netlink_;
  std::vector<net::Cidr> present_;  // on the interface, as far as l4lb knows
  std::vector<Vip> vips_;
  const config::Config* config_ = nullptr;
  bool serving_ = false;
  bool stopping_ = false;
  bool handed_off_ = false;
  bool adopted_ = false;
  // The last failure logged, and when: the same one again is logged once a minute, not at each
  // retry (every update tries again).
  std::string last_failure_;
  std::int64_t last_failure_ms_ = 0;
  mutable std::mutex views_mutex_;
  std::vector<control::AnnounceView> views_;
};

// The host address (/32 or /128) of a tcp:// or udp:// endpoint.
[[nodiscard]] net::Cidr hostAddressOf(const net::Endpoint& endpoint);

}  // namespace l4lb::app
