#pragma once

#include <functional>
#include <initializer_list>
#include <memory>

#include "base/fd.h"
#include "base/result.h"
#include "io/event_loop.h"

namespace l4lb::app {

// Signals taken synchronously, as events of the main thread's loop (a signalfd). They are
// blocked in the thread that opens this, before it starts any other: threads inherit the mask,
// so no worker or admin thread ever sees them.
class SignalSource : public io::EventHandler {
 public:
  [[nodiscard]] static base::Result<std::unique_ptr<SignalSource>> open(
      io::EventLoop& loop, std::initializer_list<int> signals,
      std::function<void(int signal_number)> on_signal);
  ~SignalSource() override;
  SignalSource(const SignalSource&) = delete;
  SignalSource& operator=(const SignalSource&) = delete;

  void onEvents(std::uint32_t events) override;

 private:
  SignalSource(io::EventLoop& loop, base::Fd fd, std::function<void(int)> on_signal)
      : loop_(loop), fd_(std::move(fd)), on_signal_(std::move(on_signal)) {}

  io::EventLoop& loop_;
  base::Fd fd_;
  std::function<void(int)> on_signal_;
};

}  // namespace l4lb::app
