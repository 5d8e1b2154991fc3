#include "proxy/pipe_pool.h"

#include <fcntl.h>
#include <unistd.h>

namespace l4lb::proxy {

PooledPipe& PooledPipe::operator=(PooledPipe&& other) noexcept {
  if (this != &other) {
    reset(false);
    pool_ = std::exchange(other.pool_, nullptr);
    read_end_ = std::move(other.read_end_);
    write_end_ = std::move(other.write_end_);
  }
  return *this;
}

void PooledPipe::reset(bool empty) {
  if (!read_end_) return;
  if (empty && pool_ != nullptr) {
    pool_->release(std::move(read_end_), std::move(write_end_));
  } else {
    read_end_.reset();
    write_end_.reset();
  }
  pool_ = nullptr;
}

PooledPipe PipePool::acquire() {
  if (!free_.empty()) {
    Ends ends = std::move(free_.back());
    free_.pop_back();
    return PooledPipe(this, std::move(ends.read_end), std::move(ends.write_end));
  }
  int ends[2];
  if (::pipe2(ends, O_NONBLOCK | O_CLOEXEC) != 0) return {};
  base::Fd read_end(ends[0]);
  base::Fd write_end(ends[1]);
  // Larger than the default 64 KiB, so that one splice moves more; refused (the per-user pipe
  // budget is spent) is harmless: the pipe keeps its default size.
  (void)::fcntl(write_end.get(), F_SETPIPE_SZ, kPipeBytes);
  return PooledPipe(this, std::move(read_end), std::move(write_end));
}

void PipePool::release(base::Fd read_end, base::Fd write_end) {
  if (free_.size() < max_free_) free_.push_back({std::move(read_end), std::move(write_end)});
}

}  // namespace l4lb::proxy
