#pragma once

#include <cstddef>
#include <memory>
#include <utility>
#include <vector>

namespace l4lb::proxy {

class BufferPool;

// A fixed-size buffer on loan from a worker's BufferPool; goes back to it when dropped.
class PooledBuffer {
 public:
  PooledBuffer() = default;
  PooledBuffer(BufferPool* pool, char* data) : pool_(pool), data_(data) {}
  PooledBuffer(PooledBuffer&& other) noexcept
      : pool_(std::exchange(other.pool_, nullptr)), data_(std::exchange(other.data_, nullptr)) {}
  PooledBuffer& operator=(PooledBuffer&& other) noexcept;
  PooledBuffer(const PooledBuffer&) = delete;
  PooledBuffer& operator=(const PooledBuffer&) = delete;
  ~PooledBuffer() { reset(); }

  [[nodiscard]] char* data() const { return data_; }
  explicit operator bool() const { return data_ != nullptr; }
  void reset();

 private:
  BufferPool* pool_ = nullptr;
  char* data_ = nullptr;
};

// One worker's buffers (never shared between threads, so no locks). A connection borrows a
// buffer only while bytes are in flight and returns it as soon as they are sent, so an idle
// connection holds none. The pool keeps at most `max_free` spare buffers and frees the rest.
class BufferPool {
 public:
  static constexpr std::size_t kBufferSize = 16 * 1024;

  explicit BufferPool(std::size_t max_free = 64);
  BufferPool(const BufferPool&) = delete;
  BufferPool& operator=(const BufferPool&) = delete;
  ~BufferPool();

  [[nodiscard]] PooledBuffer acquire();

  [[nodiscard]] std::size_t freeCount() const { return free_.size(); }
  [[nodiscard]] std::size_t outstanding() const { return outstanding_; }

 private:
  friend class PooledBuffer;
  void release(char* data);

  std::vector<char*> free_;
  std::size_t max_free_;
  std::size_t outstanding_ = 0;
};

}  // namespace l4lb::proxy
