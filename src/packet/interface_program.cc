#include "packet/interface_program.h"

#include <fmt/format.h>
#include <linux/if_link.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

#include "base/log.h"
#include "bpf/pinning.h"
#include "bpf/xdp_link.h"

namespace l4lb::packet {

namespace {

constexpr const char* kLinkPin = "link";
constexpr const char* kConnsPin = "conns";
constexpr const char* kBackendsPin = "backends";

std::string pinDirectory(const std::string& interface) {
  return fmt::format("{}/l4lb/{}", bpf::kBpffsRoot, interface);
}

base::Result<void> makeDirectory(const std::string& path) {
  if (::mkdir(path.c_str(), 0700) != 0 && errno != EEXIST) {
    return base::lastError("mkdir").within(path);
  }
  return {};
}

void unlinkPin(const std::string& path) {
  if (::unlink(path.c_str()) != 0 && errno != ENOENT) {
    base::logError("packet path: cannot remove the pin {}: {}", path, std::strerror(errno));
  }
}

}  // namespace

InterfaceProgram::InterfaceProgram(std::string name, int ifindex, bpf::LbProgram program)
    : name_(std::move(name)), ifindex_(ifindex), program_(std::move(program)) {
  if (auto id = bpf::programId(program_.programFd())) program_id_ = *id;
}

std::string InterfaceProgram::pinPath(const char* object) const {
  return pinDirectory(name_) + "/" + object;
}

base::Result<std::unique_ptr<InterfaceProgram>> InterfaceProgram::open(const std::string& name,
                                                                       int ifindex) {
  if (auto mounted = bpf::ensureBpffs(); !mounted) {
    return mounted.error().within("the BPF filesystem the packet path pins its state on");
  }
  const std::string directory = pinDirectory(name);
  if (auto made = makeDirectory(fmt::format("{}/l4lb", bpf::kBpffsRoot)); !made) {
    return made.error();
  }
  if (auto made = makeDirectory(directory); !made) return made.error();

  // An earlier l4lb's link on this interface: take it over.
  auto link = bpf::openPinned(directory + "/" + kLinkPin);
  if (!link && link.error().code != ENOENT) {
    return link.error().within(directory + "/" + kLinkPin);
  }
  if (link) {
    auto info = bpf::linkInfo(link->get());
    if (!info) return info.error().within(directory + "/" + kLinkPin);
    if (info->ifindex != 0 && info->ifindex != ifindex) {
      return base::failure(fmt::format(
          "{}/{} is the attachment of another interface (index {}, \"{}\" is {}): another l4lb "
          "in another network namespace sharing this BPF filesystem? Remove the pins if not",
          directory, kLinkPin, info->ifindex, name, ifindex));
    }
    if (info->ifindex == ifindex) {
      auto conns = bpf::openPinned(directory + "/" + kConnsPin);
      auto backends = bpf::openPinned(directory + "/" + kBackendsPin);
      bpf::LbLoadOptions options;
      options.conns_fd = conns ? conns->get() : -1;
      options.backends_fd = backends ? backends->get() : -1;
      auto program = bpf::LbProgram::load(options);
      bool reused = program && conns && backends;
      if (!program) {
        // Another layout (a new binary with changed maps): flows re-pick by Maglev instead.
        base::logWarn(
            "packet path: \"{}\": the pinned connection table and backends map cannot be used "
            "({}); starting with new ones (open flows find their backend by the Maglev table)",
            name, program.error().message());
        program = bpf::LbProgram::load();
        reused = false;
      }
      if (!program) return program.error().within("load the XDP program");
      std::unique_ptr<InterfaceProgram> taken(
          new InterfaceProgram(name, ifindex, std::move(program).value()));
      taken->link_ = std::move(link).value();
      taken->took_over_ = true;
      taken->maps_reused_ = reused;
      if (reused) {
        auto used = bpf::usedBackends(backends->get());
        if (used) taken->inherited_ = std::move(used).value();
      }
      if (auto previous = bpf::programById(info->program_id)) {
        taken->previous_program_ = std::move(previous).value();
      }
      base::logInfo(
          "packet path: \"{}\": taking over the attachment of XDP program {} (pinned in {}), "
          "{}",
          name, info->program_id, directory,
          reused
              ? fmt::format("its connection table and {} backend indexes", taken->inherited_.size())
              : std::string("with new maps"));
      return taken;
    }
    // The interface the link was attached to is gone: nothing of it is worth keeping.
    base::logInfo("packet path: \"{}\": removing stale pins of a detached program in {}", name,
                  directory);
  }
  for (const char* object : {kLinkPin, kConnsPin, kBackendsPin}) {
    unlinkPin(directory + "/" + object);
  }

  auto program = bpf::LbProgram::load();
  if (!program) return program.error().within("load the XDP program");
  std::unique_ptr<InterfaceProgram> fresh(
      new InterfaceProgram(name, ifindex, std::move(program).value()));
  if (auto attached = fresh->attachAndPin(); !attached) return attached.error();
  return fresh;
}

base::Result<void> InterfaceProgram::attachAndPin() {
  // Native mode only: generic XDP runs after the kernel built an skb, which is the cost the
  // packet path exists to avoid, and veth's XDP_TX needs the native path on both ends anyway.
  auto link = bpf::attachXdp(ifindex_, program_.programFd(), XDP_FLAGS_DRV_MODE);
  if (!link) {
    return link.error().within(
        fmt::format("attach the XDP program to interface \"{}\" in native mode{}", name_,
                    link.error().code == EBUSY ? " (another XDP program is attached there)" : ""));
  }
  link_ = std::move(link).value();
  // Detached again (by the destructor) if a pin fails: nothing half-pinned stays.
  if (auto pinned = bpf::pinObject(program_.connsFd(), pinPath(kConnsPin)); !pinned) {
    return pinned.error().within(pinPath(kConnsPin));
  }
  if (auto pinned = bpf::pinObject(program_.backendsFd(), pinPath(kBackendsPin)); !pinned) {
    return pinned.error().within(pinPath(kBackendsPin));
  }
  if (auto pinned = bpf::pinObject(link_.get(), pinPath(kLinkPin)); !pinned) {
    return pinned.error().within(pinPath(kLinkPin));
  }
  return {};
}

base::Result<void> InterfaceProgram::serve() {
  if (!took_over_ || swapped_) return {};
  if (auto swapped = bpf::replaceXdpProgram(link_.get(), program_.programFd()); !swapped) {
    return swapped.error().within(fmt::format("swap the XDP program of \"{}\"", name_));
  }
  swapped_ = true;
  base::logInfo("packet path: \"{}\": XDP program {} swapped in (took over)", name_, program_id_);
  return {};
}

void InterfaceProgram::commit() {
  committed_ = true;
  if (!took_over_ || !swapped_ || maps_reused_) return;
  // New maps: the pins name them from now on, for the next upgrade.
  for (auto [object, fd] :
       {std::pair{kConnsPin, program_.connsFd()}, std::pair{kBackendsPin, program_.backendsFd()}}) {
    unlinkPin(pinPath(object));
    if (auto pinned = bpf::pinObject(fd, pinPath(object)); !pinned) {
      base::logError("packet path: {}", pinned.error().within(pinPath(object)).message());
    }
  }
  maps_reused_ = true;
}

bool InterfaceProgram::replaced() const {
  if (!link_) return false;
  auto info = bpf::linkInfo(link_.get());
  return info && info->program_id != program_id_;
}

void InterfaceProgram::removePins() const {
  for (const char* object : {kLinkPin, kConnsPin, kBackendsPin}) unlinkPin(pinPath(object));
  ::rmdir(pinDirectory(name_).c_str());
  ::rmdir(fmt::format("{}/l4lb", bpf::kBpffsRoot).c_str());  // when no other interface has pins
}

InterfaceProgram::~InterfaceProgram() {
  if (!link_) return;                   // the attach failed: nothing was pinned
  if (took_over_ && !swapped_) return;  // the earlier program serves on, with its pins
  auto info = bpf::linkInfo(link_.get());
  if (info && info->program_id != program_id_) {
    base::logInfo("packet path: \"{}\": XDP program {} took over; leaving it attached", name_,
                  info->program_id);
    return;
  }
  if (took_over_ && !committed_ && previous_program_) {
    // A new process that failed to start: the one it took over from serves on.
    if (bpf::replaceXdpProgram(link_.get(), previous_program_.get())) {
      base::logInfo("packet path: \"{}\": the previous XDP program is back", name_);
      return;
    }
  }
  removePins();
  if (auto detached = bpf::detachLink(link_.get()); !detached) {
    base::logError("packet path: \"{}\": {}", name_, detached.error().message());
  }
  base::logInfo("packet path: XDP program {} detached from \"{}\"", program_id_, name_);
}

}  // namespace l4lb::packet
