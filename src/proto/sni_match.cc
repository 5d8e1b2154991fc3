#include "proto/sni_match.h"

#include "proto/tls_client_hello.h"

namespace l4lb::proto {

namespace {

char lower(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }

bool equalIgnoringCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (lower(a[i]) != lower(b[i])) return false;
  }
  return true;
}

// "a.example.com" is below "example.com": a longer name ending in "." + name.
bool isBelow(std::string_view host, std::string_view name) {
  return host.size() > name.size() + 1 && host[host.size() - name.size() - 1] == '.' &&
         equalIgnoringCase(host.substr(host.size() - name.size()), name);
}

}  // namespace

base::Result<SniPattern> SniPattern::parse(std::string_view text) {
  SniPattern pattern;
  std::string_view name = text;
  if (name.starts_with("*.")) {
    pattern.kind_ = Kind::kBelow;
    name.remove_prefix(2);
  } else if (name.starts_with(".")) {
    pattern.kind_ = Kind::kSelfAndBelow;
    name.remove_prefix(1);
  }
  if (name.find('*') != std::string_view::npos) {
    return base::failure("server name pattern \"" + std::string(text) +
                         "\": '*' is only allowed as a whole first label (\"*.example.com\")");
  }
  // The same rules as a server_name in a ClientHello: a pattern no hello can carry would be
  // dead config.
  std::string checked(name);
  if (std::string error = checkServerName(checked); !error.empty()) {
    return base::failure("server name pattern \"" + std::string(text) +
                         "\": " + error.replace(0, std::string_view("host_name").size(), "name"));
  }
  pattern.name_ = std::move(checked);
  return pattern;
}

bool SniPattern::matches(std::string_view host) const {
  switch (kind_) {
    case Kind::kExact: return equalIgnoringCase(host, name_);
    case Kind::kBelow: return isBelow(host, name_);
    case Kind::kSelfAndBelow: return equalIgnoringCase(host, name_) || isBelow(host, name_);
  }
  return false;
}

std::string SniPattern::text() const {
  switch (kind_) {
    case Kind::kExact: return name_;
    case Kind::kBelow: return "*." + name_;
    case Kind::kSelfAndBelow: return "." + name_;
  }
  return name_;
}

std::optional<std::size_t> bestSniMatch(std::span<const SniPattern> patterns,
                                        std::string_view host) {
  std::optional<std::size_t> best;
  for (std::size_t i = 0; i < patterns.size(); ++i) {
    const SniPattern& pattern = patterns[i];
    if (!pattern.matches(host)) continue;
    if (pattern.isExact()) return i;
    if (!best || pattern.name_.size() > patterns[*best].name_.size()) best = i;
  }
  return best;
}

}  // namespace l4lb::proto
