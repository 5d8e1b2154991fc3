#include "app/upgrade_target.h"

#include <fmt/format.h>
#include <httplib.h>
#include <sys/un.h>

#include <chrono>
#include <nlohmann/json.hpp>
#include <variant>

#include "net/endpoint.h"

namespace l4lb::app {

namespace {

// The handoff socket's path, from the old process's admin API.
bool askForHandoffSocket(const std::string& admin_url, std::string& path, std::string& error) {
  auto parsed = net::parseEndpoint(admin_url);
  if (auto* bad = std::get_if<net::EndpointError>(&parsed)) {
    error = fmt::format("--upgrade-from {}: {}", admin_url, bad->message);
    return false;
  }
  const auto& endpoint = std::get<net::Endpoint>(parsed);
  const auto* sun = reinterpret_cast<const sockaddr_un*>(&endpoint.addr);
  if (endpoint.kind != net::EndpointKind::kUnix || sun->sun_path[0] == '\0') {
    error = fmt::format(
        "--upgrade-from {}: give the running l4lb's admin socket as unix:///PATH (descriptors "
        "can only be passed over a Unix socket)",
        admin_url);
    return false;
  }
  httplib::Client client(std::string(sun->sun_path), 80);
  client.set_address_family(AF_UNIX);
  client.set_connection_timeout(5, 0);
  client.set_read_timeout(10, 0);
  auto reply = client.Post("/api/v1/upgrade", "", "application/json");
  if (!reply) {
    error = fmt::format("--upgrade-from {}: no answer from the running l4lb ({})", admin_url,
                        httplib::to_string(reply.error()));
    return false;
  }
  auto body = nlohmann::json::parse(reply->body, nullptr, /*allow_exceptions=*/false);
  if (reply->status != 200) {
    std::string reason = body.is_object() && body.contains("error") && body["error"].is_string()
                             ? body["error"].get<std::string>()
                             : reply->body;
    error = fmt::format("--upgrade-from {}: the running l4lb refused ({}): {}", admin_url,
                        reply->status, reason);
    return false;
  }
  if (!body.is_object() || !body.contains("socket") || !body["socket"].is_string()) {
    error = fmt::format("--upgrade-from {}: the answer names no handoff socket", admin_url);
    return false;
  }
  path = body["socket"].get<std::string>();
  return true;
}

}  // namespace

bool UpgradeTarget::connect(const std::string& admin_url, const upgrade::Hello& hello,
                            std::string& error) {
  std::string path;
  if (!askForHandoffSocket(admin_url, path, error)) return false;
  base::Fd socket = upgrade::connectForHandoff(path, error);
  if (!socket) return false;
  channel_.emplace(std::move(socket));
  if (!channel_->send(hello, {}, error)) return false;
  auto answer = channel_->receive(upgrade::kAnswerTimeout, error);
  if (!answer) return false;
  const auto* theirs = std::get_if<upgrade::Hello>(&answer->message);
  if (theirs == nullptr) {
    error = "the running l4lb did not answer with a hello";
    return false;
  }
  peer_ = *theirs;
  return true;
}

bool UpgradeTarget::receiveListeners(std::vector<upgrade::ReceivedHandoff>& listeners,
                                     std::vector<upgrade::BackendRecord>& backends,
                                     std::string& error) {
  while (true) {
    auto message = channel_->receive(upgrade::kAnswerTimeout, error);
    if (!message) return false;
    if (auto* states = std::get_if<upgrade::BackendStates>(&message->message)) {
      for (auto& record : states->backends) backends.push_back(std::move(record));
      continue;
    }
    if (std::holds_alternative<upgrade::ListenerHandoff>(message->message)) {
      listeners.push_back(std::move(*message));
      continue;
    }
    const auto* sent = std::get_if<upgrade::ListenersSent>(&message->message);
    if (sent == nullptr) {
      error = "the running l4lb sent something else than listeners";
      return false;
    }
    if (sent->count != listeners.size()) {
      error = fmt::format("the running l4lb announced {} listening sockets and sent {}",
                          sent->count, listeners.size());
      return false;
    }
    return true;
  }
}

bool UpgradeTarget::sendTakenOver(std::vector<std::string> listeners, std::string& error) {
  return channel_->send(upgrade::TakenOver{std::move(listeners)}, {}, error);
}

bool UpgradeTarget::receiveConnections(const std::function<void(upgrade::ReceivedHandoff)>& deliver,
                                       upgrade::Done& done, std::string& error) {
  while (true) {
    auto message = channel_->receive(upgrade::kAnswerTimeout, error);
    if (!message) return false;
    if (const auto* end = std::get_if<upgrade::Done>(&message->message)) {
      done = *end;
      return true;
    }
    if (!std::holds_alternative<upgrade::SessionHandoff>(message->message) &&
        !std::holds_alternative<upgrade::FlowHandoff>(message->message)) {
      error = "the running l4lb sent something else than connections";
      return false;
    }
    deliver(std::move(*message));
  }
}

}  // namespace l4lb::app
