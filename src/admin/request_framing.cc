#include "admin/request_framing.h"

#include <charconv>
#include <string>
#include <vector>

#include "admin/request_guard.h"

namespace l4lb::admin {

namespace {

// The offset just past the empty line that ends the head, if it has come.
std::optional<std::size_t> headEnd(std::string_view received) {
  for (std::size_t at = received.find('\n'); at != std::string_view::npos;
       at = received.find('\n', at + 1)) {
    const std::string_view rest = received.substr(at + 1);
    if (rest.starts_with("\r\n")) return at + 3;
    if (rest.starts_with("\n")) return at + 2;
  }
  return std::nullopt;
}

std::optional<std::size_t> decimal(std::string_view text) {
  std::size_t value = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || error != std::errc() || end != text.data() + text.size()) {
    return std::nullopt;
  }
  return value;
}

}  // namespace

RequestFraming frameRequest(std::string_view received, std::size_t max_head, std::size_t max_body) {
  const std::optional<std::size_t> head = headEnd(received);
  if (!head || *head > max_head) {
    if (received.size() > max_head) {
      return {.kind = RequestFraming::Kind::kHeadOnly, .length = received.size()};
    }
    return {.kind = RequestFraming::Kind::kNeedMore};
  }
  const RequestFraming head_only{.kind = RequestFraming::Kind::kHeadOnly, .length = *head};
  const std::string_view head_bytes = received.substr(0, *head);
  if (!rawHeaderValues(head_bytes, "Transfer-Encoding").empty() ||
      !rawHeaderValues(head_bytes, "Expect").empty()) {
    return head_only;
  }
  const std::vector<std::string_view> lengths = rawHeaderValues(head_bytes, "Content-Length");
  if (lengths.empty()) return {.kind = RequestFraming::Kind::kComplete, .length = *head};
  if (lengths.size() > 1) return head_only;
  std::string_view text = lengths.front();
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) text.remove_suffix(1);
  const std::optional<std::size_t> body = decimal(text);
  if (!body || *body > max_body) return head_only;
  if (received.size() - *head < *body) return {.kind = RequestFraming::Kind::kNeedMore};
  return {.kind = RequestFraming::Kind::kComplete, .length = *head + *body};
}

std::optional<std::size_t> pickEvictee(std::span<const EvictionCandidate> connections) {
  std::optional<std::size_t> oldest;
  for (std::size_t i = 0; i < connections.size(); ++i) {
    if (connections[i].serving) continue;
    if (!oldest || connections[i].waiting_since < connections[*oldest].waiting_since) oldest = i;
  }
  return oldest;
}

}  // namespace l4lb::admin
