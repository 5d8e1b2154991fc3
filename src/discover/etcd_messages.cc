#include "discover/etcd_messages.h"

#include <fmt/format.h>

#include <charconv>
#include <nlohmann/json.hpp>

#include "config/limits.h"
#include "proto/base64.h"

namespace l4lb::discover {

namespace {

using json = nlohmann::json;

// etcd writes int64 as strings; accept numbers too.
std::optional<std::int64_t> int64Of(const json& value) {
  if (value.is_number_integer()) return value.get<std::int64_t>();
  if (!value.is_string()) return std::nullopt;
  const auto& text = value.get_ref<const std::string&>();
  std::int64_t out = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
  if (ec != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return out;
}

std::optional<json> parseObject(std::string_view text, std::string& why) {
  json parsed = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (parsed.is_discarded() || !parsed.is_object()) {
    why = "not a JSON object";
    return std::nullopt;
  }
  return parsed;
}

// A gateway error: {"error": "...", "code": N, "message": "..."} (grpc-gateway's form).
std::optional<std::string> gatewayError(const json& body) {
  if (!body.contains("error") && !body.contains("code")) return std::nullopt;
  const json message = body.value("message", body.value("error", json("error")));
  return message.is_string() ? message.get<std::string>() : message.dump();
}

std::int64_t headerRevision(const json& body) {
  const auto it = body.find("header");
  if (it == body.end() || !it->is_object() || !it->contains("revision")) return 0;
  return int64Of((*it)["revision"]).value_or(0);
}

base::Result<EtcdKv> readKv(const json& kv) {
  if (!kv.is_object()) return base::failure("a kv that is not an object");
  const json key = kv.value("key", json(""));
  const json value = kv.value("value", json(""));
  if (!key.is_string() || !value.is_string()) return base::failure("a kv without string fields");
  auto decoded_key = proto::base64Decode(key.get_ref<const std::string&>(), kMaxEtcdBase64Text);
  auto decoded_value = proto::base64Decode(value.get_ref<const std::string&>(), kMaxEtcdBase64Text);
  if (!decoded_key || !decoded_value) return base::failure("a kv that is not base64");
  return EtcdKv{std::move(*decoded_key), std::move(*decoded_value)};
}

}  // namespace

std::string prefixRangeEnd(std::string_view prefix) {
  std::string end(prefix);
  while (!end.empty()) {
    auto& last = reinterpret_cast<unsigned char&>(end.back());
    if (last < 0xff) {
      ++last;
      return end;
    }
    end.pop_back();
  }
  return std::string(1, '\0');  // every key
}

std::string rangeRequest(std::string_view prefix) {
  return json{{"key", proto::base64Encode(prefix)},
              {"range_end", proto::base64Encode(prefixRangeEnd(prefix))}}
      .dump();
}

std::string watchRequest(std::string_view prefix, std::int64_t start_revision) {
  return json{{"create_request",
               {{"key", proto::base64Encode(prefix)},
                {"range_end", proto::base64Encode(prefixRangeEnd(prefix))},
                {"start_revision", std::to_string(start_revision)},
                {"progress_notify", true}}}}
      .dump();
}

base::Result<RangeReply> parseRangeReply(std::string_view text) {
  std::string why;
  auto body = parseObject(text, why);
  if (!body) return base::failure("range reply: " + why);
  if (auto error = gatewayError(*body)) return base::failure("range reply: " + *error);
  RangeReply reply;
  reply.revision = headerRevision(*body);
  if (reply.revision <= 0) return base::failure("range reply: no header revision");
  if (auto it = body->find("kvs"); it != body->end()) {
    if (!it->is_array()) return base::failure("range reply: kvs is not an array");
    for (const json& kv : *it) {
      auto read = readKv(kv);
      if (!read) return base::failure("range reply: " + read.error().message());
      reply.kvs.push_back(std::move(read).value());
    }
  }
  const json more = body->value("more", json(false));
  reply.more = more.is_boolean() && more.get<bool>();
  return reply;
}

base::Result<WatchMessage> parseWatchMessage(std::string_view text) {
  std::string why;
  auto body = parseObject(text, why);
  if (!body) return base::failure("watch message: " + why);
  if (auto error = gatewayError(*body)) return base::failure("watch: " + *error);
  const auto result = body->find("result");
  if (result == body->end() || !result->is_object()) {
    return base::failure("watch message: no result");
  }
  WatchMessage message;
  message.revision = headerRevision(*result);
  const auto flag = [&](const char* name) {
    const json value = result->value(name, json(false));
    return value.is_boolean() && value.get<bool>();
  };
  message.created = flag("created");
  message.canceled = flag("canceled");
  if (result->contains("compact_revision")) {
    message.compact_revision = int64Of((*result)["compact_revision"]).value_or(0);
  }
  const json reason = result->value("cancel_reason", json(""));
  if (reason.is_string()) message.cancel_reason = reason.get<std::string>();
  if (auto it = result->find("events"); it != result->end()) {
    if (!it->is_array()) return base::failure("watch message: events is not an array");
    for (const json& event : *it) {
      if (!event.is_object()) return base::failure("watch message: an event is not an object");
      WatchEvent out;
      const json type = event.value("type", json("PUT"));
      out.deleted = type.is_string() && type.get<std::string>() == "DELETE";
      auto kv = readKv(event.value("kv", json::object()));
      if (!kv) return base::failure("watch message: " + kv.error().message());
      out.kv = std::move(kv).value();
      message.events.push_back(std::move(out));
    }
  }
  return message;
}

base::Result<config::DiscoveredBackend> parseEtcdValue(std::string_view value, bool datagram,
                                                       const AddressParser& parse) {
  config::DiscoveredBackend backend;
  std::string address(value);
  if (value.starts_with('{')) {
    std::string why;
    auto body = parseObject(value, why);
    if (!body) return base::failure(why);
    const json a = body->value("address", json(nullptr));
    if (!a.is_string()) return base::failure("no \"address\" string");
    address = a.get<std::string>();
    const json weight = body->value("weight", json(1));
    if (!weight.is_number_integer() || weight.get<std::int64_t>() < 1 ||
        weight.get<std::int64_t>() > config::kMaxWeight) {
      return base::failure(
          fmt::format("\"weight\" must be an integer from 1 to {}", config::kMaxWeight));
    }
    backend.weight = static_cast<std::uint32_t>(weight.get<std::int64_t>());
    const json name = body->value("name", json(""));
    if (!name.is_string()) return base::failure("\"name\" must be a string");
    backend.name = name.get<std::string>();
  }
  const std::string_view scheme = datagram ? "udp://" : "tcp://";
  if (!std::string_view(address).starts_with(scheme)) {
    return base::failure(fmt::format("\"{}\" is not a {} address", address, scheme));
  }
  auto endpoint = parse(address);
  if (!endpoint) return endpoint.error();
  backend.address = std::move(endpoint).value();
  return backend;
}

}  // namespace l4lb::discover
