#include "proto/base64.h"

#include <openssl/evp.h>

#include <algorithm>
#include <climits>

namespace l4lb::proto {

std::string base64Encode(std::string_view bytes) {
  std::string out(4 * ((bytes.size() + 2) / 3) + 1, '\0');
  const int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                reinterpret_cast<const unsigned char*>(bytes.data()),
                                static_cast<int>(bytes.size()));
  out.resize(static_cast<std::size_t>(n));
  return out;
}

std::optional<std::string> base64Decode(std::string_view text, std::size_t max_text) {
  // EVP_DecodeBlock takes an int length.
  const std::size_t limit = std::min<std::size_t>(max_text, INT_MAX);
  if (text.size() % 4 != 0 || text.size() > limit) return std::nullopt;
  std::string out(3 * (text.size() / 4), '\0');
  // EVP_DecodeBlock skips surrounding whitespace and counts padding as zero bytes, so the text
  // is checked to round-trip: only canonical base64 passes.
  const int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                reinterpret_cast<const unsigned char*>(text.data()),
                                static_cast<int>(text.size()));
  if (n < 0) return std::nullopt;
  std::size_t size = static_cast<std::size_t>(n);
  if (text.ends_with("==")) {
    size -= 2;
  } else if (text.ends_with("=")) {
    size -= 1;
  }
  out.resize(size);
  if (base64Encode(out) != text) return std::nullopt;
  return out;
}

}  // namespace l4lb::proto
