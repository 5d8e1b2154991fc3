#include "app/signal_source.h"

#include <signal.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <cerrno>

namespace l4lb::app {

base::Result<std::unique_ptr<SignalSource>> SignalSource::open(
    io::EventLoop& loop, std::initializer_list<int> signals,
    std::function<void(int signal_number)> on_signal) {
  sigset_t set;
  sigemptyset(&set);
  for (int signal_number : signals) sigaddset(&set, signal_number);
  if (const int error = pthread_sigmask(SIG_BLOCK, &set, nullptr); error != 0) {
    return base::sysError(error, "pthread_sigmask");
  }
  base::Fd fd(::signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC));
  if (!fd) return base::lastError("signalfd");
  std::unique_ptr<SignalSource> source(new SignalSource(loop, std::move(fd), std::move(on_signal)));
  auto added = loop.add(source->fd_.get(), EPOLLIN, source.get());
  if (!added) return added.error();
  return source;
}

SignalSource::~SignalSource() { loop_.remove(fd_.get()); }

void SignalSource::onEvents(std::uint32_t /*events*/) {
  signalfd_siginfo info{};
  while (::read(fd_.get(), &info, sizeof(info)) == static_cast<ssize_t>(sizeof(info))) {
    on_signal_(static_cast<int>(info.ssi_signo));
  }
}

}  // namespace l4lb::app
