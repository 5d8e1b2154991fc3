#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "base/result.h"
#include "proto/check_reply.h"

// The dns health check of datagram pools: one query, answered NOERROR (RFC 1035 4.1).
namespace l4lb::proto {

// The record types a check may ask for, by name ("A", "NS", ...); nullopt for another name.
[[nodiscard]] std::optional<std::uint16_t> dnsTypeFromName(std::string_view name);
[[nodiscard]] std::string_view dnsTypeName(std::uint16_t type);
// "NOERROR", "SERVFAIL", ...; "unknown" for a code without a name.
[[nodiscard]] std::string_view dnsRcodeName(std::uint8_t rcode);

// `name` in wire form ("example.com" and "example.com." alike; "." is the root), or an error
// saying what is wrong (an empty label, a label over 63 bytes, a name over 255).
[[nodiscard]] base::Result<std::string> encodeDnsName(std::string_view name);

// A query of class IN for `wire_name` (from encodeDnsName) and `type`, recursion desired.
[[nodiscard]] std::string dnsQuery(std::uint16_t id, std::string_view wire_name,
                                   std::uint16_t type);

// One datagram received for `query`: up when it is the query's reply (same id, QR set, the
// question repeated) with RCODE NOERROR, down with the RCODE's name otherwise ("rcode
// SERVFAIL"). Anything else is down: shorter than a header, another id, the query echoed back
// (QR clear), another opcode or question. Never "need more": each datagram is whole, and the
// probe asks from a fresh socket (a fresh source port) each time, so whatever comes back on it
// is meant as the answer to this query.
[[nodiscard]] CheckVerdict parseDnsReply(std::string_view reply, std::string_view query);

}  // namespace l4lb::proto
