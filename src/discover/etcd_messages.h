#pragma once

// etcd v3's JSON gateway (etcd 3.4: /v3/kv/range, /v3/watch over HTTP/1.1), as pure functions
// over the bytes, so they are unit-tested and fuzzed (fuzz/etcd_messages_fuzz.cc). Keys and
// values travel base64-encoded, int64 numbers as JSON strings, and a watch's PUT event usually
// has no "type". Every function answers a value or says why not; none throws.

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"
#include "config/discovered.h"
#include "net/endpoint.h"

namespace l4lb::discover {

// The longest base64 text of a key or value l4lb decodes (proto/base64.h): etcd refuses a
// request above its --max-request-bytes (1.5 MiB by default), so this is room for a value of
// any store that raised it well beyond that. Any key under the prefix counts, backend or not.
inline constexpr std::size_t kMaxEtcdBase64Text = std::size_t{16} << 20;

// The range_end that makes a range request cover every key starting with `prefix` (etcd's
// GetPrefixRangeEnd: the prefix with its last byte below 0xff incremented; "\0" for all keys).
[[nodiscard]] std::string prefixRangeEnd(std::string_view prefix);

// The request bodies.
[[nodiscard]] std::string rangeRequest(std::string_view prefix);
[[nodiscard]] std::string watchRequest(std::string_view prefix, std::int64_t start_revision);

struct EtcdKv {
  std::string key;  // decoded
  std::string value;
};

struct RangeReply {
  std::int64_t revision = 0;  // the store's revision the list was read at
  std::vector<EtcdKv> kvs;
  bool more = false;  // more keys than returned (a limit): l4lb asks without one
};

[[nodiscard]] base::Result<RangeReply> parseRangeReply(std::string_view json);

struct WatchEvent {
  bool deleted = false;
  EtcdKv kv;  // a deletion's value is empty
};

// One message of a watch stream (one line of its response).
struct WatchMessage {
  std::int64_t revision = 0;  // header.revision
  bool created = false;
  bool canceled = false;
  std::int64_t compact_revision = 0;  // > 0: the revision asked for is compacted: list again
  std::string cancel_reason;
  std::vector<WatchEvent> events;
};

[[nodiscard]] base::Result<WatchMessage> parseWatchMessage(std::string_view json);

// A backend's value: an endpoint URL ("tcp://10.0.0.5:6379") or a JSON object with "address",
// and optionally "weight" (1..10000) and "name". The address must be the source's kind
// (`datagram`: udp://, else tcp://). `parse` turns an address into an endpoint
// (net::parseEndpoint, which a fuzzer replaces).
using AddressParser = std::function<base::Result<net::Endpoint>(std::string_view)>;
[[nodiscard]] base::Result<config::DiscoveredBackend> parseEtcdValue(std::string_view value,
                                                                     bool datagram,
                                                                     const AddressParser& parse);

}  // namespace l4lb::discover
