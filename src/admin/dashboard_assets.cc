#include "admin/dashboard_assets.h"

namespace l4lb::admin {

const DashboardAsset* findDashboardAsset(std::string_view path) {
  for (const DashboardAsset& asset : dashboardAssets()) {
    if (asset.path == path) return &asset;
  }
  return nullptr;
}

}  // namespace l4lb::admin
