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
base::Result<std::string> askForHandoffSocket(const std::string& admin_url) {
  auto parsed = net::parseEndpoint(admin_url);
  if (!parsed) return parsed.error();
  const net::Endpoint& endpoint = *parsed;
  const auto* sun = reinterpret_cast<const sockaddr_un*>(&endpoint.addr);
  if (endpoint.kind != net::EndpointKind::kUnix || sun->sun_path[0] == '\0') {
    return base::failure(
        "give the running l4lb's admin socket as unix:///PATH (descriptors can only be passed "
        "over a Unix socket)");
  }
  httplib::Client client(std::string(sun->sun_path), 80);
  client.set_address_family(AF_UNIX);
  client.set_connection_timeout(5, 0);
  client.set_read_timeout(10, 0);
  auto reply = client.Post("/api/v1/upgrade", "", "application/json");
  if (!reply) {
    return base::failure(
        fmt::format("no answer from the running l4lb ({})", httplib::to_string(reply.error())));
  }
  auto body = nlohmann::json::parse(reply->body, nullptr, /*allow_exceptions=*/false);
  if (reply->status != 200) {
    std::string reason = body.is_object() && body.contains("error") && body["error"].is_string()
                             ? body["error"].get<std::string>()
                             : reply->body;
    return base::failure(fmt::format("the running l4lb refused ({}): {}", reply->status, reason));
  }
  if (!body.is_object() || !body.contains("socket") || !body["socket"].is_string()) {
    return base::failure("the answer names no handoff socket");
  }
  return body["socket"].get<std::string>();
}

}  // namespace

base::Result<void> UpgradeTarget::connect(const std::string& admin_url,
                                          const upgrade::Hello& hello) {
  auto path = askForHandoffSocket(admin_url);
  if (!path) return path.error().within("--upgrade-from " + admin_url);
  auto socket = upgrade::connectForHandoff(*path);
  if (!socket) return socket.error();
  channel_.emplace(std::move(socket).value());
  if (auto sent = channel_->send(hello, {}); !sent) return sent.error();
  auto answer = channel_->receive(upgrade::kAnswerTimeout);
  if (!answer) return answer.error();
  const auto* theirs = std::get_if<upgrade::Hello>(&answer->message);
  if (theirs == nullptr) {
    return base::failure("the running l4lb did not answer with a hello");
  }
  peer_ = *theirs;
  return {};
}

base::Result<void> UpgradeTarget::receiveListeners(
    std::vector<upgrade::ReceivedHandoff>& listeners, std::vector<upgrade::BackendRecord>& backends,
    base::Fd& announce, std::vector<upgrade::ListenerAdminState>& listener_states) {
  while (true) {
    auto message = channel_->receive(upgrade::kAnswerTimeout);
    if (!message) return message.error();
    if (auto* states = std::get_if<upgrade::BackendStates>(&message->message)) {
      for (auto& record : states->backends) backends.push_back(std::move(record));
      continue;
    }
    if (auto* interface = std::get_if<upgrade::AnnounceInterface>(&message->message)) {
      if (!message->fds.empty()) announce = std::move(message->fds.front());
      listener_states = std::move(interface->listeners);
      continue;
    }
    if (std::holds_alternative<upgrade::ListenerHandoff>(message->message)) {
      listeners.push_back(std::move(*message));
      continue;
    }
    const auto* sent = std::get_if<upgrade::ListenersSent>(&message->message);
    if (sent == nullptr) {
      return base::failure("the running l4lb sent something else than listeners");
    }
    if (sent->count != listeners.size()) {
      return base::failure(
          fmt::format("the running l4lb announced {} listening sockets and sent {}", sent->count,
                      listeners.size()));
    }
    return {};
  }
}

base::Result<void> UpgradeTarget::sendTakenOver(std::vector<std::string> listeners) {
  return channel_->send(upgrade::TakenOver{std::move(listeners)}, {});
}

base::Result<upgrade::Done> UpgradeTarget::receiveConnections(
    const std::function<void(upgrade::ReceivedHandoff)>& deliver) {
  while (true) {
    auto message = channel_->receive(upgrade::kAnswerTimeout);
    if (!message) return message.error();
    if (const auto* end = std::get_if<upgrade::Done>(&message->message)) return *end;
    if (!std::holds_alternative<upgrade::SessionHandoff>(message->message) &&
        !std::holds_alternative<upgrade::FlowHandoff>(message->message)) {
      return base::failure("the running l4lb sent something else than connections");
    }
    deliver(std::move(*message));
  }
}

}  // namespace l4lb::app
