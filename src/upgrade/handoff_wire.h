#pragma once

// The handoff messages' wire primitives (handoff_message.cc): fixed-width integers in network
// order and length-prefixed byte strings. Reading fails once, with the first reason, and every
// read after that answers nothing.

#include <fmt/format.h>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>

namespace l4lb::upgrade {

class Writer {
 public:
  void u8(std::uint8_t v) { out_.push_back(static_cast<char>(v)); }
  void u32(std::uint32_t v) {
    for (int shift = 24; shift >= 0; shift -= 8) u8(static_cast<std::uint8_t>(v >> shift));
  }
  void u64(std::uint64_t v) {
    u32(static_cast<std::uint32_t>(v >> 32));
    u32(static_cast<std::uint32_t>(v));
  }
  void text(const std::string& s) {
    u32(static_cast<std::uint32_t>(s.size()));
    out_ += s;
  }
  [[nodiscard]] std::string take() { return std::move(out_); }

 private:
  std::string out_;
};

class Reader {
 public:
  explicit Reader(std::span<const std::byte> in) : in_(in) {}

  std::optional<std::uint8_t> u8(const char* what) {
    if (!need(1, what)) return std::nullopt;
    return static_cast<std::uint8_t>(in_[at_++]);
  }
  std::optional<std::uint32_t> u32(const char* what) {
    if (!need(4, what)) return std::nullopt;
    std::uint32_t v = 0;
    for (int i = 0; i < 4; ++i) v = (v << 8) | static_cast<std::uint8_t>(in_[at_++]);
    return v;
  }
  std::optional<std::uint64_t> u64(const char* what) {
    auto high = u32(what);
    auto low = u32(what);
    if (!high || !low) return std::nullopt;
    return (static_cast<std::uint64_t>(*high) << 32) | *low;
  }
  std::optional<std::string> text(const char* what, std::size_t limit) {
    auto length = u32(what);
    if (!length) return std::nullopt;
    if (*length > limit) {
      fail(fmt::format("{} is {} bytes, more than {}", what, *length, limit));
      return std::nullopt;
    }
    if (!need(*length, what)) return std::nullopt;
    std::string s(reinterpret_cast<const char*>(in_.data() + at_), *length);
    at_ += *length;
    return s;
  }
  [[nodiscard]] bool atEnd() const { return at_ == in_.size(); }
  [[nodiscard]] std::size_t remaining() const { return in_.size() - at_; }
  [[nodiscard]] bool failed() const { return !error_.empty(); }
  [[nodiscard]] const std::string& error() const { return error_; }
  void fail(std::string reason) {
    if (error_.empty()) error_ = std::move(reason);
  }

 private:
  bool need(std::size_t n, const char* what) {
    if (failed()) return false;
    if (in_.size() - at_ < n) {
      fail(fmt::format("message ends inside {}", what));
      return false;
    }
    return true;
  }

  std::span<const std::byte> in_;
  std::size_t at_ = 0;
  std::string error_;
};

}  // namespace l4lb::upgrade
