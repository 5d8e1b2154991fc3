#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "proto/check_reply.h"

// The dns health check of datagram pools: one query, answered NOERROR (RFC 1035 4.1).
namespace l4lb::proto {

// The record types a check may ask for, by name ("A", "NS", ...); nullopt for another name.
[[nodiscard]] std::optional<std::uint16_t> dnsTypeFromName(std::string_view name);
[[nodiscard]] std::string_view dnsTypeName(std::uint16_t type);
// "NOERROR", "SERVFAIL", ...; "unknown" for a code without a name.
[[nodiscard]] std::string_view dnsRcodeName(std::uint8_t rcode);

// `name` in wire form ("example.com" and "example.com." alike; "." is the root), or nullopt with
// `error` saying what is wrong (an empty label, a label over 63 bytes, a name over 255).
[[nodiscard]] std::optional<std::string> encodeDnsName(std::string_view name, std::string& error);

// A query of class IN for `wire_name` (from encodeDnsName) and `type`, recursion desired.
[[nodiscard]] std::string dnsQuery(std::uint16_t id, std::string_view wire_name,
                                   std::uint16_t type);

// One datagram received for `query`. Each datagram is whole, so nothing is ever awaited from
// the same one: need more means "not the reply to this query" (another id, a stale reply, a
// question that is not ours) and the caller waits for the next. A reply is up when its RCODE is
// NOERROR, down with the RCODE's name otherwise ("rcode SERVFAIL"). Shorter than a header, a
// query echoed back (QR clear), or a reply to another opcode: down.
[[nodiscard]] CheckVerdict parseDnsReply(std::string_view reply, std::string_view query);

}  // namespace l4lb::proto
