#pragma once

#include <string>

namespace l4lb::admin {

// The SHA-256 of a file's bytes in lowercase hex, or "" when it cannot be read (the status view
// shows which config a running l4lb was started with).
[[nodiscard]] std::string fileSha256(const std::string& path);

}  // namespace l4lb::admin
