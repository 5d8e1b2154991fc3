#include "proxy/datagram_buffers.h"

namespace l4lb::proxy {

// new char[] without (): left uninitialised, so untouched pages are never made resident.
DatagramBuffers::Batch::Batch() : memory_(new char[kBatch * kSlotSize]) {}

void DatagramBuffers::Batch::prepare(bool with_names) {
  for (std::size_t i = 0; i < kBatch; ++i) {
    iov_[i].iov_base = slot(i);
    iov_[i].iov_len = kSlotSize;
    msghdr& h = msgs_[i].msg_hdr;
    h.msg_name = with_names ? &names_[i] : nullptr;
    h.msg_namelen = with_names ? sizeof(names_[i]) : 0;
    h.msg_iov = &iov_[i];
    h.msg_iovlen = 1;
    h.msg_control = nullptr;
    h.msg_controllen = 0;
    h.msg_flags = 0;
    msgs_[i].msg_len = 0;
  }
}

void DatagramBuffers::Send::add(char* data, std::uint32_t length, const sockaddr* to,
                                socklen_t to_len, std::string_view header) {
  auto& iov = iov_[count_];
  std::size_t parts = 0;
  if (!header.empty()) {
    iov[parts].iov_base = const_cast<char*>(header.data());  // NOLINT: sendmmsg only reads it
    iov[parts].iov_len = header.size();
    ++parts;
  }
  iov[parts].iov_base = data;
  iov[parts].iov_len = length;
  ++parts;
  msghdr& h = msgs_[count_].msg_hdr;
  h = msghdr{};
  h.msg_name = const_cast<sockaddr*>(to);  // NOLINT: sendmmsg does not write it
  h.msg_namelen = to_len;
  h.msg_iov = iov.data();
  h.msg_iovlen = parts;
  msgs_[count_].msg_len = 0;
  ++count_;
}

}  // namespace l4lb::proxy
