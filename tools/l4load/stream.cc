#include "stream.h"

namespace l4load {

namespace {

// splitmix64: a good 64-bit mix in a few instructions; one call gives 8 stream bytes.
std::uint64_t splitmix(std::uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

std::uint64_t streamWord(std::uint64_t seed, std::uint64_t word) {
  return splitmix(seed ^ splitmix(word));
}

void putLe(std::uint8_t* out, std::uint64_t v, int bytes) {
  for (int i = 0; i < bytes; ++i) out[i] = static_cast<std::uint8_t>(v >> (8 * i));
}

std::uint64_t getLe(const std::uint8_t* in, int bytes) {
  std::uint64_t v = 0;
  for (int i = 0; i < bytes; ++i) v |= static_cast<std::uint64_t>(in[i]) << (8 * i);
  return v;
}

}  // namespace

std::uint8_t streamByte(std::uint64_t seed, std::uint64_t offset) {
  return static_cast<std::uint8_t>(streamWord(seed, offset / 8) >> (8 * (offset % 8)));
}

void Checksum::add(std::span<const std::uint8_t> bytes) {
  for (std::uint8_t b : bytes) {
    value_ ^= b;
    value_ *= 0x100000001b3ULL;
  }
}

void StreamWriter::fill(std::span<std::uint8_t> out) {
  std::size_t i = 0;
  while (i < out.size()) {
    const std::uint64_t word = streamWord(seed_, position_ / 8);
    for (unsigned k = position_ % 8; k < 8 && i < out.size(); ++k, ++i, ++position_) {
      out[i] = static_cast<std::uint8_t>(word >> (8 * k));
    }
  }
}

bool StreamVerifier::consume(std::span<const std::uint8_t> bytes) {
  checksum_.add(bytes);
  std::size_t i = 0;
  while (i < bytes.size()) {
    const std::uint64_t word = streamWord(seed_, position_ / 8);
    for (unsigned k = position_ % 8; k < 8 && i < bytes.size(); ++k, ++i, ++position_) {
      if (bytes[i] != static_cast<std::uint8_t>(word >> (8 * k)) && !first_mismatch_) {
        first_mismatch_ = position_;
      }
    }
  }
  return !first_mismatch_;
}

std::uint64_t streamChecksum(std::uint64_t seed, std::uint64_t length) {
  StreamWriter writer(seed);
  Checksum sum;
  std::array<std::uint8_t, 4096> block;
  while (writer.position() < length) {
    const std::size_t n = std::min<std::uint64_t>(block.size(), length - writer.position());
    writer.fill(std::span(block.data(), n));
    sum.add(std::span(block.data(), n));
  }
  return sum.value();
}

std::optional<Mode> parseMode(std::string_view name) {
  if (name == "echo") return Mode::kEcho;
  if (name == "source") return Mode::kSource;
  if (name == "sink") return Mode::kSink;
  if (name == "duplex") return Mode::kDuplex;
  return std::nullopt;
}

std::string_view modeName(Mode mode) {
  switch (mode) {
    case Mode::kEcho: return "echo";
    case Mode::kSource: return "source";
    case Mode::kSink: return "sink";
    case Mode::kDuplex: return "duplex";
  }
  return "?";
}

std::array<std::uint8_t, Hello::kSize> Hello::encode() const {
  std::array<std::uint8_t, kSize> out{};
  putLe(out.data(), kMagic, 4);
  out[4] = static_cast<std::uint8_t>(mode);
  putLe(out.data() + 8, seed, 8);
  putLe(out.data() + 16, length, 8);
  return out;
}

std::optional<Hello> Hello::decode(std::span<const std::uint8_t> bytes) {
  if (bytes.size() < kSize || getLe(bytes.data(), 4) != kMagic) return std::nullopt;
  const auto mode = static_cast<Mode>(bytes[4]);
  if (mode != Mode::kEcho && mode != Mode::kSource && mode != Mode::kSink &&
      mode != Mode::kDuplex) {
    return std::nullopt;
  }
  return Hello{mode, getLe(bytes.data() + 8, 8), getLe(bytes.data() + 16, 8)};
}

}  // namespace l4load
