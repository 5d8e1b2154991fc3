#include "proto/mysql_auth.h"

#include <fmt/format.h>
#include <openssl/bio.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>

#include <memory>

namespace l4lb::proto {

namespace {

std::string digest(const EVP_MD* md, std::string_view data) {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int size = 0;
  if (EVP_Digest(data.data(), data.size(), out, &size, md, nullptr) != 1) return {};
  return std::string(reinterpret_cast<const char*>(out), size);
}

std::string xorBytes(std::string a, std::string_view b) {
  for (std::size_t i = 0; i < a.size() && i < b.size(); ++i) a[i] ^= b[i];
  return a;
}

std::string opensslError() {
  const unsigned long code = ERR_get_error();
  ERR_clear_error();
  if (code == 0) return "unknown error";
  char text[256];
  ERR_error_string_n(code, text, sizeof(text));
  return text;
}

struct BioFree {
  void operator()(BIO* bio) const { BIO_free(bio); }
};
struct PkeyFree {
  void operator()(EVP_PKEY* key) const { EVP_PKEY_free(key); }
};
struct PkeyCtxFree {
  void operator()(EVP_PKEY_CTX* ctx) const { EVP_PKEY_CTX_free(ctx); }
};

}  // namespace

std::string mysqlNativeScramble(std::string_view password, std::string_view nonce) {
  if (password.empty()) return {};
  const std::string stage1 = digest(EVP_sha1(), password);
  const std::string stage2 = digest(EVP_sha1(), stage1);
  return xorBytes(stage1, digest(EVP_sha1(), std::string(nonce) + stage2));
}

std::string cachingSha2Scramble(std::string_view password, std::string_view nonce) {
  if (password.empty()) return {};
  const std::string stage1 = digest(EVP_sha256(), password);
  const std::string stage2 = digest(EVP_sha256(), stage1);
  return xorBytes(stage1, digest(EVP_sha256(), stage2 + std::string(nonce)));
}

base::Result<std::string> cachingSha2EncryptPassword(std::string_view password,
                                                     std::string_view nonce,
                                                     std::string_view public_key_pem) {
  if (nonce.empty()) {
    return base::failure("no nonce to mix the password with");
  }
  std::string plain(password);
  plain += '\0';
  for (std::size_t i = 0; i < plain.size(); ++i) plain[i] ^= nonce[i % nonce.size()];

  std::unique_ptr<BIO, BioFree> bio(
      BIO_new_mem_buf(public_key_pem.data(), static_cast<int>(public_key_pem.size())));
  if (!bio) {
    return base::failure(opensslError());
  }
  std::unique_ptr<EVP_PKEY, PkeyFree> key(
      PEM_read_bio_PUBKEY(bio.get(), nullptr, nullptr, nullptr));
  if (!key) {
    return base::failure("the server's public key is not a PEM public key (" + opensslError() +
                         ")");
  }
  std::unique_ptr<EVP_PKEY_CTX, PkeyCtxFree> ctx(EVP_PKEY_CTX_new(key.get(), nullptr));
  if (!ctx || EVP_PKEY_encrypt_init(ctx.get()) != 1 ||
      EVP_PKEY_CTX_set_rsa_padding(ctx.get(), RSA_PKCS1_OAEP_PADDING) != 1) {
    return base::failure("the server's public key is not an RSA key (" + opensslError() + ")");
  }
  // OAEP with SHA-1 leaves the modulus size minus 42 bytes for the message.
  const int key_bytes = EVP_PKEY_get_size(key.get());
  if (key_bytes <= 42 || plain.size() > static_cast<std::size_t>(key_bytes - 42)) {
    return base::failure(fmt::format("the password is too long for the server's {}-bit RSA key",
                                     EVP_PKEY_get_bits(key.get())));
  }
  std::size_t size = 0;
  const auto* in = reinterpret_cast<const unsigned char*>(plain.data());
  std::string out;
  if (EVP_PKEY_encrypt(ctx.get(), nullptr, &size, in, plain.size()) == 1) {
    out.resize(size);
    if (EVP_PKEY_encrypt(ctx.get(), reinterpret_cast<unsigned char*>(out.data()), &size, in,
                         plain.size()) != 1) {
      out.clear();
    }
  }
  OPENSSL_cleanse(plain.data(), plain.size());
  if (out.empty()) {
    return base::failure("RSA encryption failed (" + opensslError() + ")");
  }
  out.resize(size);
  return out;
}

}  // namespace l4lb::proto
