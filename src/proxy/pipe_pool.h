#pragma once

#include <cstddef>
#include <utility>
#include <vector>

#include "base/fd.h"

namespace l4lb::proxy {

class PipePool;

// A kernel pipe on loan from a worker's PipePool, through which splice(2) moves a direction's
// bytes from one socket to the other without copying them into l4lb. Goes back to the pool when
// dropped empty; a pipe that still holds bytes (the session ended mid-transfer) is closed.
class PooledPipe {
 public:
  PooledPipe() = default;
  PooledPipe(PooledPipe&& other) noexcept
      : pool_(std::exchange(other.pool_, nullptr)),
        read_end_(std::move(other.read_end_)),
        write_end_(std::move(other.write_end_)) {}
  PooledPipe& operator=(PooledPipe&& other) noexcept;
  PooledPipe(const PooledPipe&) = delete;
  PooledPipe& operator=(const PooledPipe&) = delete;
  ~PooledPipe() { reset(false); }

  [[nodiscard]] int readEnd() const { return read_end_.get(); }
  [[nodiscard]] int writeEnd() const { return write_end_.get(); }
  explicit operator bool() const { return read_end_.valid(); }
  // `empty`: the pipe holds no bytes, so the next borrower may have it.
  void reset(bool empty);
  // Gives up both ends (a binary upgrade passes them, bytes and all, to the new process).
  void release(base::Fd& read_end, base::Fd& write_end) {
    read_end = std::move(read_end_);
    write_end = std::move(write_end_);
    pool_ = nullptr;
  }

 private:
  friend class PipePool;
  PooledPipe(PipePool* pool, base::Fd read_end, base::Fd write_end)
      : pool_(pool), read_end_(std::move(read_end)), write_end_(std::move(write_end)) {}

  PipePool* pool_ = nullptr;
  base::Fd read_end_;
  base::Fd write_end_;
};

// One worker's spare pipes (no locks: never shared between threads). Creating a pipe costs a
// system call and two descriptors, so pipes of ended transfers are kept for the next, up to
// `max_free`; a connection holds one only while it moves bulk data.
class PipePool {
 public:
  // Bytes a pipe is sized to hold: more per splice call than a 16 KiB buffer per recv.
  static constexpr int kPipeBytes = 256 * 1024;

  explicit PipePool(std::size_t max_free = 32) : max_free_(max_free) {}
  PipePool(const PipePool&) = delete;
  PipePool& operator=(const PipePool&) = delete;

  // An empty pipe, or an invalid one when none could be made (out of descriptors): the caller
  // keeps copying through buffers.
  [[nodiscard]] PooledPipe acquire();

  [[nodiscard]] std::size_t freeCount() const { return free_.size(); }
  // A pipe another process filled (binary upgrade), closed once drained (no pool to go to).
  [[nodiscard]] static PooledPipe foreign(base::Fd read_end, base::Fd write_end) {
    return PooledPipe(nullptr, std::move(read_end), std::move(write_end));
  }
  // A pipe another process filled (binary upgrade), returned to this pool once drained.
  [[nodiscard]] PooledPipe takeOver(base::Fd read_end, base::Fd write_end) {
    return PooledPipe(this, std::move(read_end), std::move(write_end));
  }

 private:
  friend class PooledPipe;
  void release(base::Fd read_end, base::Fd write_end);

  struct Ends {
    base::Fd read_end;
    base::Fd write_end;
  };
  std::vector<Ends> free_;
  std::size_t max_free_;
};

}  // namespace l4lb::proxy
