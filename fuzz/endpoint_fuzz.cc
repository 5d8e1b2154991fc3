// libFuzzer target for net::parseEndpoint: never crash, and what it accepts round-trips through
// formatSockaddr to the same socket address.
//
// Inputs that would make parseEndpoint resolve a host name are skipped (see
// fuzz_endpoint_filter.h): DNS makes a fuzzer slow and its findings unreproducible.

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>
#include <variant>

#include "fuzz_endpoint_filter.h"
#include "net/endpoint.h"

namespace {

using l4lb::net::Endpoint;
using l4lb::net::EndpointKind;

// formatSockaddr drops the scheme; put it back for the kinds whose text form is complete.
void checkRoundTrip(const Endpoint& ep) {
  std::string address = l4lb::net::formatSockaddr(ep.sockaddrPtr(), ep.addr_len);
  std::string again_url;
  switch (ep.kind) {
    case EndpointKind::kTcp: again_url = "tcp://" + address; break;
    case EndpointKind::kUdp: again_url = "udp://" + address; break;
    case EndpointKind::kUnixAbstract: again_url = "unix://" + address; break;
    case EndpointKind::kUnix:
      // A path with a NUL in it is cut at the NUL by formatSockaddr, as by the kernel.
      if (ep.url.find('\0') != std::string::npos) return;
      again_url = "unix://" + address;
      break;
    default: return;
  }
  auto again = l4lb::net::parseEndpoint(again_url);
  if (!again) std::abort();
  const Endpoint* parsed = &*again;
  if (parsed->kind != ep.kind || parsed->addr_len != ep.addr_len) std::abort();
  if (std::memcmp(&parsed->addr, &ep.addr, ep.addr_len) != 0) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view url(reinterpret_cast<const char*>(data), size);
  if (l4lb::fuzz::wouldResolve(url)) return -1;  // -1: do not add to the corpus
  auto parsed = l4lb::net::parseEndpoint(url);
  if (!parsed) {
    if (parsed.error().message().empty()) std::abort();
    return 0;
  }
  const Endpoint& ep = *parsed;
  if (ep.url != url) std::abort();
  if (ep.addr_len > sizeof(ep.addr)) std::abort();
  checkRoundTrip(ep);
  return 0;
}
