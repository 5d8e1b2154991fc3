#include "proto/scram.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include <charconv>
#include <vector>

#include "proto/base64.h"

namespace l4lb::proto {

namespace {

using Digest = std::array<unsigned char, 32>;

Digest hmacSha256(const unsigned char* key, std::size_t key_size, std::string_view message) {
  Digest out{};
  unsigned int size = 0;
  HMAC(EVP_sha256(), key, static_cast<int>(key_size),
       reinterpret_cast<const unsigned char*>(message.data()), message.size(), out.data(), &size);
  return out;
}

Digest hmacSha256(const Digest& key, std::string_view message) {
  return hmacSha256(key.data(), key.size(), message);
}

Digest sha256(const Digest& bytes) {
  Digest out{};
  unsigned int size = 0;
  EVP_Digest(bytes.data(), bytes.size(), out.data(), &size, EVP_sha256(), nullptr);
  return out;
}

std::string_view asText(const Digest& digest) {
  return {reinterpret_cast<const char*>(digest.data()), digest.size()};
}

// The attributes of a SCRAM message in order: "a=value" separated by commas.
std::vector<std::pair<char, std::string_view>> attributes(std::string_view message) {
  std::vector<std::pair<char, std::string_view>> out;
  while (true) {
    const std::size_t comma = message.find(',');
    const std::string_view item = message.substr(0, comma);
    if (item.size() < 2 || item[1] != '=') return {};
    out.emplace_back(item[0], item.substr(2));
    if (comma == std::string_view::npos) return out;
    message.remove_prefix(comma + 1);
  }
}

bool printableNonce(std::string_view nonce) {
  for (const char c : nonce) {
    if (c < 0x21 || c > 0x7e || c == ',') return false;
  }
  return true;
}

}  // namespace

std::optional<std::string> scramClientNonce() {
  unsigned char raw[18];
  if (RAND_bytes(raw, sizeof(raw)) != 1) return std::nullopt;
  return base64Encode({reinterpret_cast<const char*>(raw), sizeof(raw)});
}

ScramSha256Client::ScramSha256Client(std::string_view user, std::string password,
                                     std::string client_nonce)
    : user_(user), password_(std::move(password)), nonce_(std::move(client_nonce)) {}

ScramSha256Client::~ScramSha256Client() {
  OPENSSL_cleanse(password_.data(), password_.size());
  OPENSSL_cleanse(server_signature_.data(), server_signature_.size());
}

std::string ScramSha256Client::clientFirst() const { return "n,,n=" + user_ + ",r=" + nonce_; }

base::Result<std::string> ScramSha256Client::clientFinal(std::string_view server_first) {
  const auto attrs = attributes(server_first);
  if (!attrs.empty() && attrs[0].first == 'm') {
    return base::failure("server requires an unsupported SCRAM extension");
  }
  if (attrs.size() < 3 || attrs[0].first != 'r' || attrs[1].first != 's' || attrs[2].first != 'i') {
    return base::failure("malformed server-first-message");
  }
  const std::string_view nonce = attrs[0].second;
  if (nonce.size() <= nonce_.size() || !nonce.starts_with(nonce_) || !printableNonce(nonce)) {
    return base::failure("server nonce does not extend ours");
  }
  const auto salt = base64Decode(attrs[1].second);
  if (!salt || salt->empty()) {
    return base::failure("bad salt in server-first-message");
  }
  const std::string_view count_text = attrs[2].second;
  std::uint32_t iterations = 0;
  const auto [end, ec] =
      std::from_chars(count_text.data(), count_text.data() + count_text.size(), iterations);
  if (ec != std::errc() || end != count_text.data() + count_text.size() || iterations == 0) {
    return base::failure("bad iteration count in server-first-message");
  }
  if (iterations > kMaxScramIterations) {
    return base::failure("server asks for " + std::string(count_text) +
                         " PBKDF2 iterations (at most " + std::to_string(kMaxScramIterations) +
                         " are spent per check)");
  }

  Digest salted{};
  if (PKCS5_PBKDF2_HMAC(password_.data(), static_cast<int>(password_.size()),
                        reinterpret_cast<const unsigned char*>(salt->data()),
                        static_cast<int>(salt->size()), static_cast<int>(iterations), EVP_sha256(),
                        static_cast<int>(salted.size()), salted.data()) != 1) {
    return base::failure("PBKDF2 failed");
  }
  // RFC 5802 section 3: the proof is ClientKey XOR HMAC(H(ClientKey), AuthMessage), and the
  // server proves itself with HMAC(HMAC(SaltedPassword, "Server Key"), AuthMessage).
  const std::string without_proof = "c=" + base64Encode("n,,") + ",r=" + std::string(nonce);
  const std::string auth_message =
      clientFirst().substr(3) + "," + std::string(server_first) + "," + without_proof;
  Digest client_key = hmacSha256(salted, "Client Key");
  Digest stored_key = sha256(client_key);
  Digest proof = hmacSha256(stored_key, auth_message);
  for (std::size_t i = 0; i < proof.size(); ++i) proof[i] ^= client_key[i];
  Digest server_key = hmacSha256(salted, "Server Key");
  server_signature_ = hmacSha256(server_key, auth_message);
  answered_ = true;
  std::string out = without_proof + ",p=" + base64Encode(asText(proof));
  for (Digest* secret : {&salted, &client_key, &stored_key, &server_key}) {
    OPENSSL_cleanse(secret->data(), secret->size());
  }
  return out;
}

base::Result<void> ScramSha256Client::verifyServerFinal(std::string_view server_final) const {
  if (!answered_) {
    return base::failure("server-final-message before our proof");
  }
  const auto attrs = attributes(server_final);
  if (!attrs.empty() && attrs[0].first == 'e') {
    return base::failure("server refused: " + std::string(attrs[0].second.substr(0, 80)));
  }
  if (attrs.empty() || attrs[0].first != 'v') {
    return base::failure("malformed server-final-message");
  }
  const auto signature = base64Decode(attrs[0].second);
  if (!signature || signature->size() != server_signature_.size() ||
      CRYPTO_memcmp(signature->data(), server_signature_.data(), server_signature_.size()) != 0) {
    return base::failure("server signature does not match (the server does not know the password)");
  }
  return {};
}

}  // namespace l4lb::proto
