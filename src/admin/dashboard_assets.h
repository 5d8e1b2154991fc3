#pragma once

#include <span>
#include <string_view>

namespace l4lb::admin {

// One file of the dashboard (src/admin/dashboard/), built into the binary by
// cmake/embed_assets.cmake: the page at "/", its script, style and icon under "/dashboard/".
struct DashboardAsset {
  std::string_view path;          // as requested: "/", "/dashboard/dashboard.js"
  std::string_view content_type;  // "text/html; charset=utf-8", ...
  std::string_view body;
};

// Every file, from the generated dashboard_assets.cc.
[[nodiscard]] std::span<const DashboardAsset> dashboardAssets();

// The file served at `path` (the request's path, its query removed), or null.
[[nodiscard]] const DashboardAsset* findDashboardAsset(std::string_view path);

}  // namespace l4lb::admin
