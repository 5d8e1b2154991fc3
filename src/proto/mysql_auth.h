#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "base/result.h"

// The password proofs of the two MySQL authentication plugins a health check speaks. Pure
// functions over libcrypto; the conversation around them is MysqlDialog's.
namespace l4lb::proto {

inline constexpr std::string_view kMysqlNativePassword = "mysql_native_password";
inline constexpr std::string_view kCachingSha2Password = "caching_sha2_password";

// mysql_native_password: SHA1(password) XOR SHA1(nonce + SHA1(SHA1(password))); 20 bytes, or
// nothing for an empty password.
[[nodiscard]] std::string mysqlNativeScramble(std::string_view password, std::string_view nonce);

// caching_sha2_password fast path: SHA256(password) XOR SHA256(SHA256(SHA256(password)) + nonce);
// 32 bytes, or nothing for an empty password.
[[nodiscard]] std::string cachingSha2Scramble(std::string_view password, std::string_view nonce);

// caching_sha2_password full authentication without TLS: (password + '\0') XOR the nonce
// (repeated), encrypted with RSA-OAEP (SHA-1, as the server decrypts it) under the server's
// PEM public key. nullopt when the key cannot be read or the password does not fit in it, with
// `error` saying which.
[[nodiscard]] base::Result<std::string> cachingSha2EncryptPassword(std::string_view password,
                                                                   std::string_view nonce,
                                                                   std::string_view public_key_pem);

}  // namespace l4lb::proto
