#include <optional>
#include <string_view>
#include <vector>

#include "config/config.h"

namespace l4lb::config {

std::optional<SendProxy> parseSendProxy(std::string_view text) {
  if (text == "off") return SendProxy::kOff;
  if (text == "v1") return SendProxy::kV1;
  if (text == "v2") return SendProxy::kV2;
  return std::nullopt;
}

const std::vector<std::string_view>& sendProxyNames() {
  static const std::vector<std::string_view> names = {"v1", "v2", "off"};
  return names;
}

}  // namespace l4lb::config
