#include "proxy/buffer_pool.h"

#include <gtest/gtest.h>

#include <vector>

namespace l4lb::proxy {
namespace {

TEST(BufferPool, ReusesReleasedBuffers) {
  BufferPool pool(4);
  char* first = nullptr;
  {
    PooledBuffer buffer = pool.acquire();
    first = buffer.data();
    EXPECT_EQ(pool.outstanding(), 1u);
  }
  EXPECT_EQ(pool.outstanding(), 0u);
  EXPECT_EQ(pool.freeCount(), 1u);
  PooledBuffer again = pool.acquire();
  EXPECT_EQ(again.data(), first);
  EXPECT_EQ(pool.freeCount(), 0u);
}

TEST(BufferPool, KeepsAtMostMaxFreeSpares) {
  BufferPool pool(2);
  {
    std::vector<PooledBuffer> held;
    for (int i = 0; i < 5; ++i) held.push_back(pool.acquire());
    EXPECT_EQ(pool.outstanding(), 5u);
  }
  EXPECT_EQ(pool.outstanding(), 0u);
  EXPECT_EQ(pool.freeCount(), 2u);
}

TEST(BufferPool, MovedBufferReturnsOnce) {
  BufferPool pool(4);
  PooledBuffer a = pool.acquire();
  PooledBuffer b = std::move(a);
  EXPECT_FALSE(a);  // NOLINT(bugprone-use-after-move): checking the moved-from state
  EXPECT_TRUE(b);
  b.reset();
  EXPECT_FALSE(b);
  EXPECT_EQ(pool.outstanding(), 0u);
  EXPECT_EQ(pool.freeCount(), 1u);
}

}  // namespace
}  // namespace l4lb::proxy
