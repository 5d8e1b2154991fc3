#include "stream.h"

#include <gtest/gtest.h>

#include <vector>

namespace l4load {
namespace {

std::vector<std::uint8_t> firstBytes(std::uint64_t seed, std::size_t n) {
  std::vector<std::uint8_t> out(n);
  StreamWriter(seed).fill(out);
  return out;
}

TEST(L4loadStream, WriterIsByteForByteTheStreamInAnySplit) {
  const auto whole = firstBytes(7, 1000);
  for (std::size_t i = 0; i < whole.size(); ++i) ASSERT_EQ(whole[i], streamByte(7, i)) << i;
  StreamWriter pieces(7);
  std::vector<std::uint8_t> out(1000);
  std::size_t at = 0;
  for (std::size_t step : {1, 3, 8, 13, 64, 911}) {
    pieces.fill(std::span(out.data() + at, step));
    at += step;
  }
  EXPECT_EQ(out, whole);
}

TEST(L4loadStream, SeedsGiveDifferentStreams) {
  EXPECT_NE(firstBytes(1, 64), firstBytes(2, 64));
  EXPECT_NE(firstBytes(1, 64), firstBytes(1 ^ kServerSalt, 64));
}

TEST(L4loadStream, VerifierAcceptsTheStreamSplitAnyWay) {
  const auto whole = firstBytes(42, 5000);
  StreamVerifier v(42);
  std::size_t at = 0;
  for (std::size_t step = 1; at < whole.size(); step = step * 2 + 1) {
    const std::size_t n = std::min(step, whole.size() - at);
    EXPECT_TRUE(v.consume(std::span(whole.data() + at, n)));
    at += n;
  }
  EXPECT_FALSE(v.corrupt());
  EXPECT_EQ(v.received(), 5000u);
  EXPECT_EQ(v.checksum(), streamChecksum(42, 5000));
}

TEST(L4loadStream, VerifierReportsTheFirstChangedByte) {
  auto data = firstBytes(42, 100);
  data[37] ^= 1;
  data[80] ^= 1;
  StreamVerifier v(42);
  EXPECT_FALSE(v.consume(data));
  EXPECT_EQ(v.firstMismatch(), 37u);
  EXPECT_NE(v.checksum(), streamChecksum(42, 100));
}

TEST(L4loadStream, VerifierCatchesALostAndADuplicatedByte) {
  const auto data = firstBytes(9, 100);
  std::vector<std::uint8_t> lost(data.begin(), data.end());
  lost.erase(lost.begin() + 50);
  StreamVerifier a(9);
  EXPECT_FALSE(a.consume(lost));
  std::vector<std::uint8_t> dup(data.begin(), data.end());
  dup.insert(dup.begin() + 50, dup[50] ^ 0xff);
  StreamVerifier b(9);
  EXPECT_FALSE(b.consume(dup));
  EXPECT_EQ(b.firstMismatch(), 50u);
}

TEST(L4loadStream, WriterRewindResendsTheSameBytes) {
  StreamWriter w(3);
  std::vector<std::uint8_t> a(100), b(40);
  w.fill(a);
  w.rewind(40);
  w.fill(b);
  EXPECT_TRUE(std::equal(b.begin(), b.end(), a.begin() + 60));
}

TEST(L4loadHello, RoundTripsAndRejectsOtherBytes) {
  const Hello h{Mode::kDuplex, 0x1122334455667788ULL, 123456789};
  const auto bytes = h.encode();
  const auto back = Hello::decode(bytes);
  ASSERT_TRUE(back);
  EXPECT_EQ(back->mode, Mode::kDuplex);
  EXPECT_EQ(back->seed, h.seed);
  EXPECT_EQ(back->length, h.length);
  auto bad = bytes;
  bad[0] ^= 1;
  EXPECT_FALSE(Hello::decode(bad));
  bad = bytes;
  bad[4] = 9;
  EXPECT_FALSE(Hello::decode(bad));
  EXPECT_FALSE(Hello::decode(std::span(bytes.data(), Hello::kSize - 1)));
}

TEST(L4loadHello, ModeNamesRoundTrip) {
  for (Mode m : {Mode::kEcho, Mode::kSource, Mode::kSink, Mode::kDuplex}) {
    EXPECT_EQ(parseMode(modeName(m)), m);
  }
  EXPECT_FALSE(parseMode("proxy"));
}

}  // namespace
}  // namespace l4load
