#pragma once

#include <sys/socket.h>

#include <array>
#include <cstddef>
#include <memory>
#include <string_view>

namespace l4lb::proxy {

// One worker's preallocated batches for recvmmsg/sendmmsg, shared by its datagram listeners
// (one thread, and no batch is held across a return to the loop).
//
// Slot size: 64 KiB, so any UDP datagram (at most 65,507 bytes) fits and MSG_TRUNC can only mean
// a Unix datagram larger than that, which is dropped and counted. Smaller slots would cut
// legitimate datagrams (EDNS answers, jumbo-frame payloads, syslog over unixgram); 64 KiB slots
// cost address space, not memory: the slots are one uninitialised allocation, and only the pages
// that datagrams actually fill become resident (32 slots x one 4 KiB page for DNS-sized traffic).
class DatagramBuffers {
 public:
  static constexpr std::size_t kBatch = 32;
  static constexpr std::size_t kSlotSize = 64 * 1024;

  // A batch to receive into: the slots, their iovecs and source addresses, and the headers.
  class Batch {
   public:
    Batch();
    [[nodiscard]] char* slot(std::size_t i) { return memory_.get() + i * kSlotSize; }
    // Resets the headers for a receive of up to kBatch datagrams (with source addresses when
    // `with_names`).
    void prepare(bool with_names);
    [[nodiscard]] mmsghdr* msgs() { return msgs_.data(); }
    [[nodiscard]] const sockaddr* name(std::size_t i) const {
      return reinterpret_cast<const sockaddr*>(&names_[i]);
    }
    [[nodiscard]] socklen_t nameLen(std::size_t i) const { return msgs_[i].msg_hdr.msg_namelen; }
    [[nodiscard]] std::uint32_t length(std::size_t i) const { return msgs_[i].msg_len; }
    [[nodiscard]] bool truncated(std::size_t i) const {
      return (msgs_[i].msg_hdr.msg_flags & MSG_TRUNC) != 0;
    }

   private:
    std::unique_ptr<char[]> memory_;
    std::array<iovec, kBatch> iov_{};
    std::array<sockaddr_storage, kBatch> names_{};
    std::array<mmsghdr, kBatch> msgs_{};
  };

  // Headers for one sendmmsg: datagrams pointing into a Batch's slots.
  class Send {
   public:
    void clear() { count_ = 0; }
    // `header` (may be empty) goes before the data in the same datagram, without a copy.
    void add(char* data, std::uint32_t length, const sockaddr* to, socklen_t to_len,
             std::string_view header = {});
    [[nodiscard]] mmsghdr* msgs() { return msgs_.data(); }
    [[nodiscard]] std::size_t count() const { return count_; }

   private:
    std::array<std::array<iovec, 2>, kBatch> iov_{};
    std::array<mmsghdr, kBatch> msgs_{};
    std::size_t count_ = 0;
  };

  Batch from_clients;
  Batch from_backends;
  Send send;
};

}  // namespace l4lb::proxy
