#include <cstdlib>

#include "io/poller.h"

namespace l4lb::io {

std::string_view backendName(IoBackend backend) {
  return backend == IoBackend::kIoUring ? "io_uring" : "epoll";
}

std::optional<IoBackend> chooseBackend(std::optional<bool> configured_io_uring,
                                       std::string& error) {
  if (configured_io_uring) return *configured_io_uring ? IoBackend::kIoUring : IoBackend::kEpoll;
  const char* from_environment = std::getenv("L4LB_IO");
  if (from_environment == nullptr || *from_environment == '\0') return IoBackend::kEpoll;
  std::string_view name(from_environment);
  if (name == "epoll") return IoBackend::kEpoll;
  if (name == "io_uring") return IoBackend::kIoUring;
  error = "L4LB_IO=\"" + std::string(name) + "\": expected \"epoll\" or \"io_uring\"";
  return std::nullopt;
}

}  // namespace l4lb::io
