#pragma once

#include <string>
#include <string_view>

#include "base/fd.h"
#include "base/result.h"

namespace l4lb::net {

// Whether `name` can name a network interface: 1 to IFNAMSIZ-1 bytes, no '/', no whitespace,
// not "." or ".." (what the kernel's dev_valid_name() accepts).
[[nodiscard]] bool validInterfaceName(std::string_view name);

// A TUN interface that lives exactly as long as l4lb holds its descriptor: it is made without
// TUNSETPERSIST, so the kernel deletes it, and every address on it, when the last descriptor
// (in any process) closes. l4lb puts the VIPs it announces on it (app/announcer.h): a routing
// daemon exports the interface's addresses, and a crash withdraws them all with no timer and no
// code of l4lb's still running. Nothing is ever read from or written to it.
class TunDevice {
 public:
  // Makes the interface `name` (it must not exist yet: an interface of that name already there is
  // someone else's, or a persistent leftover, and l4lb would not own its life) and brings it up.
  [[nodiscard]] static base::Result<TunDevice> create(std::string_view name);
  // The descriptor of an interface a previous l4lb made, handed over in a binary upgrade.
  [[nodiscard]] static base::Result<TunDevice> adopt(base::Fd fd);

  [[nodiscard]] const std::string& name() const { return name_; }
  [[nodiscard]] int index() const { return index_; }
  [[nodiscard]] int fd() const { return fd_.get(); }

 private:
  TunDevice(base::Fd fd, std::string name, int index)
      : fd_(std::move(fd)), name_(std::move(name)), index_(index) {}

  base::Fd fd_;
  std::string name_;
  int index_ = 0;
};

}  // namespace l4lb::net
