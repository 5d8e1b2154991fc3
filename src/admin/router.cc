#include "admin/router.h"

#include <fmt/format.h>

#include "admin/dashboard_assets.h"

namespace l4lb::admin {

namespace {

using nlohmann::json;

int hexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::optional<std::string> decodeSegment(std::string_view segment) {
  std::string out;
  out.reserve(segment.size());
  for (std::size_t i = 0; i < segment.size(); ++i) {
    const auto raw = static_cast<unsigned char>(segment[i]);
    // A request line cannot carry spaces or control bytes; only escapes may make them.
    if (raw <= ' ' || raw == 0x7f) return std::nullopt;
    if (segment[i] != '%') {
      out += segment[i];
      continue;
    }
    if (i + 2 >= segment.size()) return std::nullopt;
    const int high = hexValue(segment[i + 1]);
    const int low = hexValue(segment[i + 2]);
    if (high < 0 || low < 0) return std::nullopt;
    const char c = static_cast<char>(high * 16 + low);
    if (c == '\0') return std::nullopt;
    out += c;
    i += 2;
  }
  return out;
}

ApiReply methodNotAllowed(std::string_view allowed) {
  return errorReply(405, fmt::format("method not allowed here (allowed: {})", allowed));
}

}  // namespace

std::optional<std::vector<std::string>> splitPath(std::string_view target) {
  const std::size_t query = target.find_first_of("?#");
  if (query != std::string_view::npos) target = target.substr(0, query);
  std::vector<std::string> segments;
  std::size_t start = 0;
  while (start <= target.size()) {
    std::size_t end = target.find('/', start);
    if (end == std::string_view::npos) end = target.size();
    std::string_view raw = target.substr(start, end - start);
    if (!raw.empty()) {
      auto decoded = decodeSegment(raw);
      if (!decoded) return std::nullopt;
      segments.push_back(std::move(*decoded));
    }
    start = end + 1;
  }
  return segments;
}

std::optional<std::string> queryValue(std::string_view target, std::string_view name) {
  const std::size_t start = target.find('?');
  if (start == std::string_view::npos) return std::nullopt;
  std::string_view query = target.substr(start + 1);
  query = query.substr(0, query.find('#'));
  while (!query.empty()) {
    const std::size_t amp = query.find('&');
    const std::string_view pair = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
    const std::size_t equals = pair.find('=');
    if (pair.substr(0, equals) != name) continue;
    if (equals == std::string_view::npos) return std::string();
    const std::string_view raw = pair.substr(equals + 1);
    // Left as sent when it cannot be decoded: the caller's own check then names it.
    return decodeSegment(raw).value_or(std::string(raw));
  }
  return std::nullopt;
}

std::string encodeSegment(std::string_view segment) {
  std::string out;
  for (const char c : segment) {
    const auto u = static_cast<unsigned char>(c);
    const bool plain = (u >= 'a' && u <= 'z') || (u >= 'A' && u <= 'Z') || (u >= '0' && u <= '9') ||
                       c == '-' || c == '_' || c == '.' || c == '~' || c == ':' || c == '@';
    if (plain) {
      out += c;
    } else {
      out += fmt::format("%{:02X}", u);
    }
  }
  return out;
}

base::Result<BackendChange> parseBackendChange(std::string_view body) {
  json parsed = json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (parsed.is_discarded()) {
    return base::failure("the body is not valid JSON");
  }
  if (!parsed.is_object()) {
    return base::failure(
        "the body must be a JSON object like {\"state\": \"drain\"} or {\"weight\": 3}");
  }
  BackendChange change;
  for (const auto& [key, value] : parsed.items()) {
    if (key == "state") {
      std::optional<control::AdminState> state;
      if (value.is_string()) state = parseAdminAction(value.get<std::string>());
      if (!state) {
        return base::failure("\"state\" must be \"drain\", \"enable\" or \"disable\"");
      }
      change.state = state;
    } else if (key == "weight") {
      if (!value.is_number_integer() || value.get<std::int64_t>() < 1 ||
          value.get<std::int64_t>() > kMaxAdminWeight) {
        return base::failure(
            fmt::format("\"weight\" must be an integer from 1 to {}", kMaxAdminWeight));
      }
      change.weight = value.get<std::uint32_t>();
    } else {
      return base::failure(
          fmt::format("unknown key \"{}\" (expected \"state\" and/or \"weight\")", key));
    }
  }
  if (!change.state && !change.weight) {
    return base::failure("nothing to change: give \"state\" and/or \"weight\"");
  }
  return change;
}

ApiReply route(Controller& controller, const ApiRequest& request) {
  auto segments = splitPath(request.target);
  if (!segments) return errorReply(400, "malformed percent-escape in the path");
  const auto& s = *segments;
  // Read-only like every GET: no token needed on tcp:// listeners.
  if (s.size() == 1 && s[0] == "metrics") {
    return request.method == "GET" ? controller.metrics() : methodNotAllowed("GET");
  }
  // The dashboard's page at "/" and its files under /dashboard/ (README.md, "Dashboard").
  if (s.empty() || (s.size() == 2 && s[0] == "dashboard")) {
    const DashboardAsset* asset = findDashboardAsset(s.empty() ? "/" : "/dashboard/" + s[1]);
    if (asset == nullptr) return errorReply(404, "not found");
    if (request.method != "GET") return methodNotAllowed("GET");
    ApiReply reply;
    reply.content_type = std::string(asset->content_type);
    reply.text = std::string(asset->body);
    return reply;
  }
  if (s.size() < 3 || s[0] != "api" || s[1] != "v1") {
    return errorReply(404, "not found (the API is under /api/v1)");
  }
  const bool get = request.method == "GET";
  if (s.size() == 3 && s[2] == "status") return get ? controller.status() : methodNotAllowed("GET");
  if (s.size() == 3 && s[2] == "dashboard") {
    return get ? controller.dashboard(!request.over_unix) : methodNotAllowed("GET");
  }
  if (s.size() == 3 && s[2] == "listeners") {
    return get ? controller.listeners() : methodNotAllowed("GET");
  }
  if (s.size() == 4 && s[2] == "listeners") {
    if (request.method != "PATCH") return methodNotAllowed("PATCH");
    if (!request.may_change) {
      return errorReply(401, "changes over TCP need \"Authorization: Bearer TOKEN\"");
    }
    return controller.changeListener(s[3], request.body);
  }
  if (s.size() == 3 && s[2] == "announce") {
    return get ? controller.announce() : methodNotAllowed("GET");
  }
  if (s.size() == 3 && s[2] == "packet") return get ? controller.packet() : methodNotAllowed("GET");
  if (s.size() == 3 && s[2] == "pools") return get ? controller.pools() : methodNotAllowed("GET");
  if (s.size() == 3 && s[2] == "reload") {
    if (request.method != "POST") return methodNotAllowed("POST");
    if (!request.may_change) {
      return errorReply(401, "changes over TCP need \"Authorization: Bearer TOKEN\"");
    }
    return controller.reload();
  }
  if (s.size() == 4 && s[2] == "reload" && s[3] == "dry-run") {
    // Changes nothing, but reads the config file: as guarded as a reload.
    if (request.method != "POST") return methodNotAllowed("POST");
    if (!request.may_change) {
      return errorReply(401, "changes over TCP need \"Authorization: Bearer TOKEN\"");
    }
    return controller.reloadDryRun();
  }
  if (s.size() == 3 && s[2] == "upgrade") {
    if (request.method != "POST") return methodNotAllowed("POST");
    if (!request.over_unix) {
      return errorReply(403, "a binary upgrade is taken over the unix:// admin socket only");
    }
    return controller.upgrade();
  }
  if (s.size() == 3 && s[2] == "sessions") {
    return get ? controller.sessions() : methodNotAllowed("GET");
  }
  if (s.size() == 4 && s[2] == "sessions") {
    if (request.method != "DELETE") return methodNotAllowed("DELETE");
    if (!request.may_change) {
      return errorReply(401, "changes over TCP need \"Authorization: Bearer TOKEN\"");
    }
    return controller.endSession(s[3]);
  }
  if (s.size() == 4 && s[2] == "pools")
    return get ? controller.pool(s[3]) : methodNotAllowed("GET");
  if (s.size() == 5 && s[2] == "pools" && s[4] == "lookup") {
    if (!get) return methodNotAllowed("GET");
    const std::optional<std::string> client = queryValue(request.target, "client");
    return controller.lookup(s[3], client.value_or(""));
  }
  if (s.size() == 5 && s[2] == "pools" && s[4] == "backends") {
    if (request.method != "POST") return methodNotAllowed("POST");
    if (!request.may_change) {
      return errorReply(401, "changes over TCP need \"Authorization: Bearer TOKEN\"");
    }
    return controller.addBackend(s[3], request.body);
  }
  if (s.size() == 6 && s[2] == "pools" && s[4] == "backends") {
    if (request.method != "PATCH" && request.method != "DELETE") {
      return methodNotAllowed("PATCH, DELETE");
    }
    if (!request.may_change) {
      return errorReply(401, "changes over TCP need \"Authorization: Bearer TOKEN\"");
    }
    if (request.method == "DELETE") return controller.removeBackend(s[3], s[5]);
    auto change = parseBackendChange(request.body);
    if (!change) return errorReply(400, change.error().message());
    return controller.changeBackend(s[3], s[5], *change);
  }
  return errorReply(404, "not found");
}

}  // namespace l4lb::admin
