// The admin API's side of announcing VIPs (README.md, "Announcing VIPs"): the operator's state of
// a listener, and what is announced and why not.

#include <fmt/format.h>

#include "admin/controller.h"
#include "base/log.h"

namespace l4lb::admin {

using nlohmann::json;

namespace {

json announceJson(const control::AnnounceView& view) {
  json out{
      {"listener", view.listener},
      {"vip", view.vip},
      {"announced", view.announced},
      {"reason", view.announced ? json(nullptr) : json(control::withdrawReasonName(view.reason))},
      {"backends_up", view.backends_up},
      {"min_backends", view.min_backends},
      {"hold_down_ms", view.hold_down_ms},
      {"changes", view.changes}};
  out["hold_down_until_unix_ms"] = view.reason == control::WithdrawReason::kHoldDown
                                       ? json(view.hold_down_until_unix_ms)
                                       : json(nullptr);
  // What the discover source says while the VIP waits for it: "error: dns:...: timeout".
  out["discovery"] = !view.announced && view.reason == control::WithdrawReason::kDiscoveryNotSynced
                         ? json(view.discovery)
                         : json(nullptr);
  return out;
}

}  // namespace

ApiReply Controller::changeListener(std::string_view listener, std::string_view body) {
  json parsed = json::parse(body, nullptr, /*allow_exceptions=*/false);
  std::optional<control::AdminState> state;
  if (parsed.is_object() && parsed.size() == 1 && parsed.contains("state") &&
      parsed["state"].is_string()) {
    state = parseAdminAction(parsed["state"].get<std::string>());
  }
  if (!state) {
    return errorReply(400,
                      "the body must be {\"state\": \"drain\"}, {\"state\": \"disable\"} or "
                      "{\"state\": \"enable\"}");
  }
  std::lock_guard lock(mutex_);
  const config::ListenerConfig* found = nullptr;
  for (const auto& candidate : config_->listeners) {
    if (candidate.name == listener) found = &candidate;
  }
  if (found == nullptr) return errorReply(404, fmt::format("no listener \"{}\"", listener));
  if (*state == control::AdminState::kEnabled) {
    listener_states_.erase(found->name);
  } else {
    listener_states_[found->name] = *state;
  }
  ++changes_;
  saveStateLocked();
  base::logInfo("listener \"{}\": {} (admin API){}", found->name, adminStateName(*state),
                found->announce
                    ? (*state == control::AdminState::kEnabled ? ": its VIP may be announced again"
                                                               : ": its VIP is withdrawn")
                    : "");
  if (hooks_.listener_changed) hooks_.listener_changed();
  return ApiReply{200, json{{"name", found->name},
                            {"admin_state", adminStateName(*state)},
                            {"announce", found->announce}}};
}

bool Controller::listenerWithdrawn(std::string_view listener) const {
  std::lock_guard lock(mutex_);
  const auto it = listener_states_.find(listener);
  return it != listener_states_.end() && it->second != control::AdminState::kEnabled;
}

std::vector<std::pair<std::string, control::AdminState>> Controller::listenerStates() const {
  std::lock_guard lock(mutex_);
  return {listener_states_.begin(), listener_states_.end()};
}

bool Controller::restoreListenerState(std::string_view listener, control::AdminState state,
                                      std::string_view from) {
  std::lock_guard lock(mutex_);
  if (state == control::AdminState::kEnabled) return false;
  for (const auto& candidate : config_->listeners) {
    if (candidate.name != listener) continue;
    listener_states_[candidate.name] = state;
    base::logInfo("listener \"{}\": {} ({})", candidate.name, adminStateName(state), from);
    return true;
  }
  return false;
}

ApiReply Controller::announce() const {
  if (!hooks_.announce) {
    return errorReply(404, "nothing is announced: [global] announce_interface is not set");
  }
  json list = json::array();
  for (const auto& view : hooks_.announce()) list.push_back(announceJson(view));
  return ApiReply{200, json{{"vips", std::move(list)}}};
}

}  // namespace l4lb::admin
