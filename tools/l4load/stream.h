// The seeded byte stream l4load sends and checks, and the hello that opens every connection.
//
// Byte i of stream `seed` is a pure function of (seed, i), so the receiver checks each byte as it
// arrives, in any split across reads, with no copy of what was sent: a byte lost, duplicated,
// reordered or changed inside the proxy shows as a mismatch at a known offset. Both sides also
// keep an FNV-1a checksum of what they sent and received, reported in the summaries, so a client's
// and a server's figures can be compared after the run.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>

namespace l4load {

// Byte `offset` of stream `seed`.
std::uint8_t streamByte(std::uint64_t seed, std::uint64_t offset);

// FNV-1a, 64 bits, continued over successive spans.
class Checksum {
 public:
  void add(std::span<const std::uint8_t> bytes);
  std::uint64_t value() const { return value_; }

 private:
  std::uint64_t value_ = 0xcbf29ce484222325ULL;
};

// Writes the stream from its current position on.
class StreamWriter {
 public:
  explicit StreamWriter(std::uint64_t seed) : seed_(seed) {}
  void fill(std::span<std::uint8_t> out);
  // After a short write: the bytes beyond `accepted` of the last fill were not sent.
  void rewind(std::uint64_t bytes) { position_ -= bytes; }
  std::uint64_t position() const { return position_; }

 private:
  std::uint64_t seed_;
  std::uint64_t position_ = 0;
};

// Checks received bytes against the stream; remembers the first mismatch.
class StreamVerifier {
 public:
  explicit StreamVerifier(std::uint64_t seed) : seed_(seed) {}
  // False once any byte so far differed from the stream.
  bool consume(std::span<const std::uint8_t> bytes);
  bool corrupt() const { return first_mismatch_.has_value(); }
  std::optional<std::uint64_t> firstMismatch() const { return first_mismatch_; }
  std::uint64_t received() const { return position_; }
  std::uint64_t checksum() const { return checksum_.value(); }

 private:
  std::uint64_t seed_;
  std::uint64_t position_ = 0;
  std::optional<std::uint64_t> first_mismatch_;
  Checksum checksum_;
};

// Checksum of the first `length` bytes of stream `seed` (what a clean transfer must report).
std::uint64_t streamChecksum(std::uint64_t seed, std::uint64_t length);

// What the client asks of the server, first on every stream connection (and in every datagram).
enum class Mode : std::uint8_t {
  kEcho = 1,    // the server returns every byte; FIN after the client's FIN
  kSource = 2,  // the server sends `length` bytes of stream seed^kServerSalt, then FIN
  kSink = 3,    // the client sends `length` bytes; the server checks them, FIN after the client's
  kDuplex = 4,  // both send `length` bytes at once, each FIN when done (FIN while data flows)
};
std::optional<Mode> parseMode(std::string_view name);
std::string_view modeName(Mode mode);

// The server's stream in source and duplex modes differs from the client's, so an echo of the
// client's bytes cannot pass for it.
inline constexpr std::uint64_t kServerSalt = 0x5eed5a17c0ffee00ULL;

struct Hello {
  static constexpr std::uint32_t kMagic = 0x444c344cU;  // "L4LD" little-endian
  static constexpr std::size_t kSize = 24;
  Mode mode = Mode::kEcho;
  std::uint64_t seed = 0;
  std::uint64_t length = 0;  // payload bytes after the hello (echo, sink, duplex) or from server

  std::array<std::uint8_t, kSize> encode() const;
  // Nothing if the bytes are not a hello (wrong magic or mode).
  static std::optional<Hello> decode(std::span<const std::uint8_t> bytes);
};

}  // namespace l4load
