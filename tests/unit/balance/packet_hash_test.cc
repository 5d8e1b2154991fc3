#include "balance/packet_hash.h"

#include <gtest/gtest.h>

#include <array>
#include <random>
#include <span>

#include "balance/hash64.h"

namespace l4lb::balance {
namespace {

// packet_hash.h is the C rendering the XDP program compiles; it must stay the function hash64.h
// defines (FNV-1a + mix64, seed 0) over the key bytes: address, then the port in network order.
TEST(PacketHash, IsHashBytesOverTheClientKey) {
  std::mt19937_64 random(17);
  for (int i = 0; i < 2000; ++i) {
    std::array<std::uint8_t, 18> key{};
    for (auto& byte : key) byte = static_cast<std::uint8_t>(random());
    const std::uint32_t address_length = (i % 2 == 0) ? 4 : 16;
    const auto port =
        static_cast<std::uint16_t>(key[address_length] << 8 | key[address_length + 1]);
    EXPECT_EQ(l4lb_client_hash(key.data(), address_length, port, 0),
              hashBytes(std::span<const std::uint8_t>(key.data(), address_length), 0));
    EXPECT_EQ(l4lb_client_hash(key.data(), address_length, port, 1),
              hashBytes(std::span<const std::uint8_t>(key.data(), address_length + 2), 0));
  }
}

TEST(PacketHash, MixIsSplitmix64sFinalizer) {
  for (const std::uint64_t x : {0ULL, 1ULL, 0x0123456789abcdefULL, ~0ULL}) {
    EXPECT_EQ(l4lb_mix64(x), mix64(x));
  }
}

}  // namespace
}  // namespace l4lb::balance
