#include "config/text_file.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <unistd.h>

#include <cerrno>

#include "base/fd.h"

namespace l4lb::config {

namespace {

constexpr std::size_t kMaxConfigBytes = 16 << 20;

}  // namespace

base::Result<std::string> readTextFile(const std::string& path) {
  base::Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) return base::lastError("cannot open config file");
  std::string text;
  char buf[64 * 1024];
  for (;;) {
    ssize_t n = ::read(fd.get(), buf, sizeof(buf));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return base::lastError("cannot read config file");
    if (n == 0) break;
    text.append(buf, static_cast<std::size_t>(n));
    if (text.size() > kMaxConfigBytes) {
      return base::failure(fmt::format("config file is larger than {} MiB", kMaxConfigBytes >> 20));
    }
  }
  return text;
}

}  // namespace l4lb::config
