#pragma once

// Shared by the fuzz targets: parseEndpoint resolves host names with getaddrinfo, which is slow
// (milliseconds, or seconds when DNS is unreachable) and depends on the machine, so a fuzzer
// that reached it would run a few executions per second and find nothing reproducible. The
// targets therefore only hand parseEndpoint tcp:// and udp:// URLs whose host is an IP literal;
// everything else about the URL (unix paths, abstract names, mq names, ports, brackets, bad
// schemes) is still fuzzed in full.

#include <arpa/inet.h>

#include <string>
#include <string_view>

namespace l4lb::fuzz {

// True when parseEndpoint(url) might call getaddrinfo: an inet scheme with a host part that is
// not an IPv4 or IPv6 literal. Mirrors how net/endpoint.cc splits host and port.
inline bool wouldResolve(std::string_view url) {
  std::size_t sep = url.find("://");
  if (sep == std::string_view::npos) return false;
  std::string_view scheme = url.substr(0, sep);
  if (scheme != "tcp" && scheme != "udp") return false;
  std::string_view rest = url.substr(sep + 3);
  std::string_view host;
  if (!rest.empty() && rest.front() == '[') {
    std::size_t close = rest.find(']');
    host = rest.substr(1, close == std::string_view::npos ? std::string_view::npos : close - 1);
  } else {
    std::size_t colon = rest.rfind(':');
    host = colon == std::string_view::npos ? rest : rest.substr(0, colon);
  }
  std::string text(host);
  unsigned char addr[16];
  return inet_pton(AF_INET, text.c_str(), addr) != 1 &&
         inet_pton(AF_INET6, text.c_str(), addr) != 1;
}

}  // namespace l4lb::fuzz
