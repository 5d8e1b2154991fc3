#include "proto/printable.h"

#include <fmt/format.h>

#include <limits>

namespace l4lb::proto {

std::string printable(std::string_view text, std::size_t limit) {
  std::string out;
  for (std::size_t i = 0; i < text.size() && i < limit; ++i) {
    const auto c = static_cast<unsigned char>(text[i]);
    if (c >= 0x20 && c < 0x7f) {
      out += static_cast<char>(c);
    } else if (c == '\r') {
      out += "\\r";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += fmt::format("\\x{:02x}", c);
    }
  }
  if (text.size() > limit) out += "...";
  return out;
}

std::string redactSecret(std::string text, std::string_view secret) {
  if (secret.empty()) return text;
  constexpr std::string_view kRedacted = "<redacted>";
  constexpr std::string_view kCut = "...";
  // Shorter beginnings before a cut say too little of the secret to be worth hiding (and "ab..."
  // would otherwise lose letters of every reason that shares them).
  constexpr std::size_t kMinCutPrefix = 3;
  const std::string forms[] = {std::string(secret),
                               printable(secret, std::numeric_limits<std::size_t>::max())};
  for (const std::string& form : forms) {
    for (std::size_t at = text.find(form); at != std::string::npos;
         at = text.find(form, at + kRedacted.size())) {
      text.replace(at, form.size(), kRedacted);
    }
    for (std::size_t cut = text.find(kCut); cut != std::string::npos;
         cut = text.find(kCut, cut + 1)) {
      for (std::size_t k = std::min(form.size() - 1, cut); k >= kMinCutPrefix; --k) {
        if (text.compare(cut - k, k, form, 0, k) == 0) {
          text.replace(cut - k, k, kRedacted);
          cut = cut - k + kRedacted.size();
          break;
        }
      }
    }
  }
  return text;
}

}  // namespace l4lb::proto
