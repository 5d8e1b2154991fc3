#pragma once

#include <cstdint>
#include <span>
#include <string_view>

namespace l4lb::balance {

// Fixed 64-bit hashing shared by the Maglev table and the flow hash. Unlike std::hash these give
// the same value on every compiler, platform and process, which is what lets several l4lb
// instances agree on a client's backend. Not meant to resist an adversary choosing inputs: a
// client can already pick its backend by retrying from other ports.

// The splitmix64 finalizer: a bijection in which every output bit depends on every input bit.
constexpr std::uint64_t mix64(std::uint64_t x) {
  x ^= x >> 30;
  x *= 0xbf58476d1ce4e5b9ULL;
  x ^= x >> 27;
  x *= 0x94d049bb133111ebULL;
  x ^= x >> 31;
  return x;
}

inline constexpr std::uint64_t kGoldenGamma = 0x9e3779b97f4a7c15ULL;  // splitmix64's increment

// FNV-1a over the bytes, then mix64: FNV alone leaves the low bits weak, and callers take the
// hash modulo a table size. Different seeds give independent functions (Maglev's h1 and h2).
constexpr std::uint64_t hashBytes(std::span<const std::uint8_t> bytes, std::uint64_t seed) {
  std::uint64_t h = 0xcbf29ce484222325ULL ^ mix64(seed);
  for (const std::uint8_t b : bytes) {
    h ^= b;
    h *= 0x100000001b3ULL;
  }
  return mix64(h);
}

constexpr std::uint64_t hashString(std::string_view text, std::uint64_t seed) {
  std::uint64_t h = 0xcbf29ce484222325ULL ^ mix64(seed);
  for (const char c : text) {
    h ^= static_cast<std::uint8_t>(c);
    h *= 0x100000001b3ULL;
  }
  return mix64(h);
}

}  // namespace l4lb::balance
