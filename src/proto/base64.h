#pragma once

// Base64 (RFC 4648, the standard alphabet, padded) through libcrypto's EVP blocks: SCRAM's
// nonces, salts and proofs (proto/scram.h), and etcd's keys and values (discover/).

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace l4lb::proto {

// What base64Decode takes by default: more than any SCRAM message carries, and little enough
// that a hostile server's field costs nothing to refuse.
inline constexpr std::size_t kBase64DefaultMaxText = std::size_t{1} << 16;

[[nodiscard]] std::string base64Encode(std::string_view bytes);
// nullopt unless `text` is canonical padded base64 of at most `max_text` characters.
[[nodiscard]] std::optional<std::string> base64Decode(std::string_view text,
                                                      std::size_t max_text = kBase64DefaultMaxText);

}  // namespace l4lb::proto
