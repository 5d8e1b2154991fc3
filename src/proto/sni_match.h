#pragma once

#include <cstddef>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "base/result.h"

// Server-name patterns for routing on the ClientHello's server_name, with nginx's server_name
// semantics (https://nginx.org/en/docs/http/server_names.html), chosen over HAProxy's
// `req.ssl_sni -m end` (a plain suffix match, where "example.com" also matches
// "badexample.com"):
//
//   "www.example.com"  exactly that name;
//   "*.example.com"    any name below example.com, at any depth ("a.example.com",
//                      "a.b.example.com"), but not "example.com" itself;
//   ".example.com"     example.com itself and any name below it.
//
// Matching ignores case. When several patterns match, the exact name wins, then the wildcard
// with the longest suffix, then the earliest in the list (nginx's order, without its trailing
// "www.example.*" form and regular expressions).
namespace l4lb::proto {

class SniPattern {
 public:
  // Checks and lower-cases a pattern; the error says what is wrong with it.
  [[nodiscard]] static base::Result<SniPattern> parse(std::string_view text);

  [[nodiscard]] bool matches(std::string_view host) const;
  [[nodiscard]] bool isExact() const { return kind_ == Kind::kExact; }
  // The pattern as written (lower-cased): "*.example.com".
  [[nodiscard]] std::string text() const;

 private:
  enum class Kind : unsigned char { kExact, kBelow, kSelfAndBelow };
  friend std::optional<std::size_t> bestSniMatch(std::span<const SniPattern>, std::string_view);

  Kind kind_ = Kind::kExact;
  std::string name_;  // "www.example.com" or, for the wildcards, "example.com"
};

// The index of the pattern that wins for `host` (see above), or nullopt when none matches.
[[nodiscard]] std::optional<std::size_t> bestSniMatch(std::span<const SniPattern> patterns,
                                                      std::string_view host);

}  // namespace l4lb::proto
