#include "proxy/buffer_pool.h"

namespace l4lb::proxy {

PooledBuffer& PooledBuffer::operator=(PooledBuffer&& other) noexcept {
  if (this != &other) {
    reset();
    pool_ = std::exchange(other.pool_, nullptr);
    data_ = std::exchange(other.data_, nullptr);
  }
  return *this;
}

void PooledBuffer::reset() {
  if (data_ != nullptr) pool_->release(std::exchange(data_, nullptr));
}

BufferPool::BufferPool(std::size_t max_free) : max_free_(max_free) { free_.reserve(max_free); }

BufferPool::~BufferPool() {
  for (char* data : free_) delete[] data;
}

PooledBuffer BufferPool::acquire() {
  ++outstanding_;
  if (free_.empty()) return PooledBuffer(this, new char[kBufferSize]);
  char* data = free_.back();
  free_.pop_back();
  return PooledBuffer(this, data);
}

void BufferPool::release(char* data) {
  --outstanding_;
  if (free_.size() < max_free_) {
    free_.push_back(data);
  } else {
    delete[] data;
  }
}

}  // namespace l4lb::proxy
