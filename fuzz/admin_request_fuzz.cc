// libFuzzer target for the admin API's request handling (admin/router.h): any method byte,
// target and body must give a JSON object (or, for GET /metrics, text) and a status the API
// documents, never a crash; an error always says why; and every path that splits round-trips
// through encodeSegment.
//
// Input: one byte picks the method, then the target up to the first '\n', then the body.

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <string>
#include <string_view>

#include "admin/router.h"
#include "config/loader.h"

namespace {

constexpr const char* kConfig = R"(
[admin]
listen = []
[[listener]]
name = "front"
bind = "tcp://127.0.0.1:7000"
pool = "web"
[pool.web]
balance = "maglev"
maglev_table_size = 101
health = { check = "tcp" }
backends = [{ address = "tcp://127.0.0.1:7001", name = "one" }, { address = "tcp://127.0.0.1:7002" }]
)";

l4lb::admin::Controller& controller() {
  static auto* config = [] {
    auto loaded = l4lb::config::loadConfigText(kConfig, "fuzz.toml");
    if (!loaded.ok()) std::abort();
    return new l4lb::config::Config(std::move(*loaded.config));
  }();
  static auto* made = new l4lb::admin::Controller(*config, l4lb::admin::StartInfo{}, {});
  return *made;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  static constexpr std::string_view kMethods[] = {"GET", "PATCH", "POST", "PUT", "DELETE"};
  const std::string_view method = kMethods[data[0] % 5];
  const bool may_change = (data[0] & 0x80) == 0;
  std::string_view rest(reinterpret_cast<const char*>(data + 1), size - 1);
  const std::size_t newline = rest.find('\n');
  const std::string_view target = rest.substr(0, newline);
  const std::string_view body =
      newline == std::string_view::npos ? std::string_view() : rest.substr(newline + 1);

  const auto reply = l4lb::admin::route(controller(), {method, target, body, may_change});
  switch (reply.status) {
    case 200:
    case 400:
    case 401:
    case 404:
    case 405: break;
    default: std::abort();
  }
  // A text reply (GET /metrics) carries its type and text in place of a JSON object.
  if (!reply.content_type.empty()) {
    if (reply.status != 200 || reply.text.empty()) std::abort();
  } else if (!reply.body.is_object()) {
    std::abort();
  }
  (void)reply.body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  if (reply.status != 200) {
    const auto error = reply.body.find("error");
    if (error == reply.body.end() || !error->is_string() || error->get<std::string>().empty()) {
      std::abort();
    }
  }

  if (auto segments = l4lb::admin::splitPath(target)) {
    std::string again;
    for (const auto& segment : *segments) again += "/" + l4lb::admin::encodeSegment(segment);
    auto resplit = l4lb::admin::splitPath(again);
    if (!resplit || *resplit != *segments) std::abort();
  }
  return 0;
}
