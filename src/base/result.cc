#include "base/result.h"

#include <cstring>

namespace l4lb::base {

std::string Error::message() const {
  std::string text = context;
  auto add = [&text](std::string_view part) {
    if (part.empty()) return;
    if (!text.empty()) text += ": ";
    text += part;
  };
  add(op);
  if (code != 0) add(std::strerror(code));
  return text;
}

Error Error::within(std::string_view outer) const& { return Error(*this).within(outer); }

Error Error::within(std::string_view outer) && {
  if (outer.empty()) return std::move(*this);
  context = context.empty() ? std::string(outer) : std::string(outer) + ": " + context;
  return std::move(*this);
}

}  // namespace l4lb::base
