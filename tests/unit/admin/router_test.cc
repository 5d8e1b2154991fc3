#include "admin/router.h"

#include <gtest/gtest.h>

#include <memory>
#include <vector>

#include "admin/dashboard_assets.h"
#include "config/loader.h"

namespace l4lb::admin {
namespace {

constexpr const char* kConfig = R"(
[[listener]]
name = "front"
bind = "tcp://127.0.0.1:7000"
pool = "web"

[pool.web]
balance = "maglev"
maglev_table_size = 1009
health = { check = "tcp" }
backends = [
  { address = "tcp://127.0.0.1:7001", name = "one" },
  { address = "tcp://127.0.0.1:7002" },
]
)";

class RouterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto loaded = config::loadConfigText(kConfig, "test.toml");
    ASSERT_TRUE(loaded.ok());
    config_ = std::move(*loaded.config);
    ControllerHooks hooks;
    hooks.publish = [this](std::shared_ptr<const control::AdminSnapshot> s) {
      published_.push_back(s);
    };
    hooks.pause_checks = [this](std::uint32_t p, std::uint32_t b, bool paused) {
      paused_.push_back({p, b, paused ? 1U : 0U});
    };
    // By name, as the workers answer: "one" is backend 0, the other backend 1.
    hooks.totals = [](std::string_view, std::string_view backend) {
      const std::uint64_t b = backend == "one" ? 0 : 1;
      return BackendTotals{b, 10 + b, 0};
    };
    hooks.metrics = [](MetricsSample& sample) {
      sample.end_reasons = {"completed", "client-reset"};
      auto& one = sample.backend("web", "one");
      one.bytes_to_backend = 123;
      one.connect_buckets[0] = 2;
      one.connect_buckets.back() = 1;  // slower than the last bound
      one.connect_sum_us = 3'000'250;
      auto& front = sample.listener("front");
      front.accepted = 5;
      front.ended = {4, 1};
    };
    controller_ = std::make_unique<Controller>(config_, StartInfo{"9.9", 3, "abc", 0}, hooks);
  }

  ApiReply call(std::string_view method, std::string_view target, std::string_view body = "",
                bool may_change = true) {
    return route(*controller_, ApiRequest{method, target, body, may_change});
  }

  config::Config config_;
  std::unique_ptr<Controller> controller_;
  std::vector<std::shared_ptr<const control::AdminSnapshot>> published_;
  std::vector<std::vector<std::uint32_t>> paused_;
};

TEST_F(RouterTest, SplitsAndDecodesSegments) {
  auto segments = splitPath("/api/v1/pools/web/backends/tcp:%2F%2F127.0.0.1:7002?x=1");
  ASSERT_TRUE(segments);
  EXPECT_EQ(segments->size(), 6U);
  EXPECT_EQ((*segments)[5], "tcp://127.0.0.1:7002");
  EXPECT_FALSE(splitPath("/api/v1/pools/%2"));
  EXPECT_FALSE(splitPath("/api/v1/pools/%zz"));
  EXPECT_FALSE(splitPath("/api/v1/pools/%00"));
  EXPECT_FALSE(splitPath(std::string_view("/api/v1/pools/a\0b", 17)));
  EXPECT_FALSE(splitPath("/api/v1/pools/a b"));
  EXPECT_EQ(encodeSegment("tcp://127.0.0.1:7002"), "tcp:%2F%2F127.0.0.1:7002");
  EXPECT_EQ(encodeSegment("a b/c"), "a%20b%2Fc");
}

TEST_F(RouterTest, MetricsAnswerTextForGetOnly) {
  auto reply = call("GET", "/metrics?x=1", "", /*may_change=*/false);  // a read: no token
  ASSERT_EQ(reply.status, 200);
  EXPECT_EQ(reply.content_type, "text/plain; version=0.0.4; charset=utf-8");
  const std::string& text = reply.text;
  EXPECT_NE(text.find("l4lb_build_info{version=\"9.9\"} 1\n"), std::string::npos) << text;
  EXPECT_NE(text.find("l4lb_workers 3\n"), std::string::npos);
  EXPECT_NE(text.find("# TYPE l4lb_backend_bytes_to_backend_total counter\n"), std::string::npos);
  EXPECT_NE(text.find("l4lb_backend_bytes_to_backend_total{pool=\"web\",backend=\"one\"} 123\n"),
            std::string::npos);
  // A backend the workers did not report (yet) shows zeros, not nothing.
  EXPECT_NE(text.find("l4lb_backend_bytes_to_backend_total{pool=\"web\",backend=\"tcp://"
                      "127.0.0.1:7002\"} 0\n"),
            std::string::npos);
  EXPECT_NE(text.find("l4lb_backend_connect_duration_seconds_bucket{pool=\"web\",backend=\"one\","
                      "le=\"2.5\"} 2\n"),
            std::string::npos);
  EXPECT_NE(text.find("l4lb_backend_connect_duration_seconds_count{pool=\"web\",backend=\"one\"} "
                      "3\n"),
            std::string::npos);
  EXPECT_NE(text.find("l4lb_listener_connections_ended_total{listener=\"front\",reason=\"client-"
                      "reset\"} 1\n"),
            std::string::npos);
  // Checked, and no health snapshot yet: unknown.
  EXPECT_NE(text.find("l4lb_backend_health_state{pool=\"web\",backend=\"one\",state=\"unknown\"} "
                      "1\n"),
            std::string::npos);
  EXPECT_EQ(text.find("_total_total"), std::string::npos);
  EXPECT_EQ(call("POST", "/metrics").status, 405);
  EXPECT_EQ(call("GET", "/metrics/more").status, 404);
}

// The dashboard's page and files are built into the binary (cmake/embed_assets.cmake).
TEST_F(RouterTest, DashboardPageAndFiles) {
  auto page = call("GET", "/", "", /*may_change=*/false);  // a read: no token
  EXPECT_EQ(page.status, 200);
  EXPECT_EQ(page.content_type, "text/html; charset=utf-8");
  EXPECT_NE(page.text.find("/dashboard/dashboard.js"), std::string::npos);
  auto script = call("GET", "/dashboard/dashboard.js?v=1");
  EXPECT_EQ(script.status, 200);
  EXPECT_EQ(script.content_type, "text/javascript; charset=utf-8");
  EXPECT_NE(script.text.find("/api/v1/dashboard"), std::string::npos);
  EXPECT_EQ(call("GET", "/dashboard/dashboard.css").content_type, "text/css; charset=utf-8");
  EXPECT_EQ(call("GET", "/dashboard/icon.svg").content_type, "image/svg+xml");
  EXPECT_EQ(call("POST", "/").status, 405);
  ASSERT_FALSE(dashboardAssets().empty());
  for (const auto& asset : dashboardAssets()) EXPECT_FALSE(asset.body.empty()) << asset.path;
}

TEST_F(RouterTest, DashboardAnswer) {
  auto reply = call("GET", "/api/v1/dashboard", "", /*may_change=*/false);
  ASSERT_EQ(reply.status, 200);
  EXPECT_TRUE(reply.body.contains("pid"));
  EXPECT_TRUE(reply.body.contains("time_ms"));
  EXPECT_EQ(reply.body["listeners"].size(), config_.listeners.size());
  ASSERT_EQ(reply.body["pools"].size(), 1U);
  const auto& backend = reply.body["pools"][0]["backends"][0];
  EXPECT_EQ(backend["name"], "one");
  EXPECT_EQ(backend["shown"], "unknown");  // checked, before its first check
  EXPECT_TRUE(backend.contains("ejections"));
  EXPECT_EQ(call("POST", "/api/v1/dashboard").status, 405);
  // Drained: the page's word.
  ASSERT_EQ(call("PATCH", "/api/v1/pools/web/backends/one", R"({"state":"drain"})").status, 200);
  EXPECT_EQ(call("GET", "/api/v1/dashboard").body["pools"][0]["backends"][0]["shown"], "drain");
}

TEST_F(RouterTest, Views) {
  auto status = call("GET", "/api/v1/status");
  EXPECT_EQ(status.status, 200);
  EXPECT_EQ(status.body["version"], "9.9");
  EXPECT_EQ(status.body["workers"], 3);
  EXPECT_EQ(status.body["config"]["sha256"], "abc");
  auto listeners = call("GET", "/api/v1/listeners");
  EXPECT_EQ(listeners.body["listeners"][0]["pool"], "web");
  auto pools = call("GET", "/api/v1/pools");
  EXPECT_EQ(pools.body["pools"][0]["name"], "web");
  EXPECT_EQ(pools.body["pools"][0]["backends_available"], 0);  // no check has answered yet
  auto pool = call("GET", "/api/v1/pools/web");
  ASSERT_EQ(pool.status, 200);
  const auto& backends = pool.body["backends"];
  ASSERT_EQ(backends.size(), 2U);
  EXPECT_EQ(backends[0]["name"], "one");
  EXPECT_EQ(backends[1]["name"], "tcp://127.0.0.1:7002");
  EXPECT_EQ(backends[1]["total"], 11);
  EXPECT_EQ(backends[0]["state"], "unknown");

  EXPECT_TRUE(backends[0]["last_check"].is_null()) << "no check yet";
  EXPECT_TRUE(backends[0]["last_change"].is_null()) << "no change yet";

  control::HealthSnapshot states;
  states.pools = {{control::BackendState::kUp, control::BackendState::kDown}};
  states.changes = {{{.from = control::BackendState::kUnknown,
                      .to = control::BackendState::kUp,
                      .reason = "connected",
                      .unix_ms = control::wallClockMillis() - 5000},
                     {.from = control::BackendState::kUp,
                      .to = control::BackendState::kDown,
                      .reason = "connect: Connection refused",
                      .unix_ms = control::wallClockMillis() - 3000}}};
  controller_->onHealth(std::make_shared<const control::HealthSnapshot>(states));
  pool = call("GET", "/api/v1/pools/web");
  EXPECT_EQ(pool.body["backends"][0]["state"], "up");
  EXPECT_EQ(pool.body["backends"][1]["state"], "down");
  const auto& change = pool.body["backends"][1]["last_change"];
  EXPECT_EQ(change["from"], "up");
  EXPECT_EQ(change["to"], "down");
  EXPECT_EQ(change["reason"], "connect: Connection refused");
  EXPECT_GE(change["seconds_ago"].get<int>(), 2);
  EXPECT_TRUE(change["at"].is_string());
  EXPECT_EQ(pool.body["backends_available"], 1);
  pools = call("GET", "/api/v1/pools");
  EXPECT_EQ(pools.body["pools"][0]["last_change"]["backend"], "tcp://127.0.0.1:7002")
      << "the pool's latest change";
  EXPECT_EQ(pools.body["pools"][0]["checks_failing"], 0);
}

// The last check is told apart from the last state change: a backend down for one reason whose
// checks now fail for another shows both (issue 15: a stopped server showed a role mismatch).
TEST_F(RouterTest, LastCheckIsNotTheLastStateChange) {
  control::HealthSnapshot states;
  states.pools = {{control::BackendState::kUp, control::BackendState::kDown}};
  states.changes = {{{},
                     {.from = control::BackendState::kUp,
                      .to = control::BackendState::kDown,
                      .reason = "role mismatch: replica, wanted primary",
                      .unix_ms = control::wallClockMillis() - 30000}}};
  controller_->onHealth(std::make_shared<const control::HealthSnapshot>(states));
  controller_->onChecked(0, 1, {false, "connect: Connection refused", control::wallClockMillis()});
  controller_->onChecked(0, 0, {true, "connected", control::wallClockMillis()});
  auto pool = call("GET", "/api/v1/pools/web");
  const auto& down = pool.body["backends"][1];
  EXPECT_EQ(down["last_check"]["result"], "failed");
  EXPECT_EQ(down["last_check"]["reason"], "connect: Connection refused");
  EXPECT_LE(down["last_check"]["seconds_ago"].get<int>(), 1);
  EXPECT_EQ(down["last_change"]["reason"], "role mismatch: replica, wanted primary");
  EXPECT_GE(down["last_change"]["seconds_ago"].get<int>(), 29);
  EXPECT_EQ(pool.body["backends"][0]["last_check"]["result"], "ok");
  EXPECT_EQ(pool.body["checks_failing"], 1);
  // Out of range (a checker of another config): ignored.
  controller_->onChecked(3, 0, {false, "x", 1});
  controller_->onChecked(0, 9, {false, "x", 1});
}

// A reload keeps each backend's last check while its check is the same, and drops it when the
// check changed: a result of the old check is not the new one's.
TEST_F(RouterTest, AReloadThatChangesTheCheckDropsTheLastCheck) {
  controller_->onChecked(0, 0, {false, "expected PONG", control::wallClockMillis()});
  controller_->onChecked(0, 1, {false, "expected PONG", control::wallClockMillis()});
  std::string same_text = kConfig;
  auto same = config::loadConfigText(same_text, "test.toml");
  ASSERT_TRUE(same.ok());
  controller_->rebase(*same.config, "def", [](auto) {});
  auto pool = call("GET", "/api/v1/pools/web");
  EXPECT_EQ(pool.body["backends"][0]["last_check"]["reason"], "expected PONG")
      << "same check: kept";

  std::string changed_text = kConfig;
  changed_text.replace(changed_text.find("check = \"tcp\""), 13, "check = \"redis\"");
  auto changed = config::loadConfigText(changed_text, "test.toml");
  ASSERT_TRUE(changed.ok());
  controller_->rebase(*changed.config, "ghi", [](auto) {});
  pool = call("GET", "/api/v1/pools/web");
  EXPECT_TRUE(pool.body["backends"][0]["last_check"].is_null()) << pool.body.dump();
  EXPECT_TRUE(pool.body["backends"][1]["last_check"].is_null()) << pool.body.dump();
  controller_->onChecked(0, 0, {true, "PONG", control::wallClockMillis()});
  pool = call("GET", "/api/v1/pools/web");
  EXPECT_EQ(pool.body["backends"][0]["last_check"]["result"], "ok");
  // The configs must outlive the controller's pointer to them.
  controller_->rebase(config_, "abc", [](auto) {});
}

TEST_F(RouterTest, PatchStatePublishesAndPausesChecksOnDisable) {
  auto reply = call("PATCH", "/api/v1/pools/web/backends/one", R"({"state": "drain"})");
  ASSERT_EQ(reply.status, 200) << reply.body.dump();
  EXPECT_EQ(reply.body["state"], "draining");
  ASSERT_EQ(published_.size(), 1U);
  EXPECT_EQ(published_[0]->states[0][0], control::AdminState::kDraining);
  EXPECT_TRUE(paused_.empty());

  reply = call("PATCH", "/api/v1/pools/web/backends/one", R"({"state": "drain"})");
  EXPECT_EQ(published_.size(), 1U);  // no change, nothing published

  reply = call("PATCH", "/api/v1/pools/web/backends/one", R"({"state": "disable"})");
  EXPECT_EQ(reply.body["state"], "disabled");
  ASSERT_EQ(paused_.size(), 1U);
  EXPECT_EQ(paused_[0], (std::vector<std::uint32_t>{0, 0, 1}));
  reply = call("PATCH", "/api/v1/pools/web/backends/one", R"({"state": "enable"})");
  ASSERT_EQ(paused_.size(), 2U);
  EXPECT_EQ(paused_[1], (std::vector<std::uint32_t>{0, 0, 0}));
  EXPECT_EQ(published_.back()->states[0][0], control::AdminState::kEnabled);
  EXPECT_EQ(controller_->changes(), 3U);
}

TEST_F(RouterTest, PatchWeightRebuildsTheMaglevTable) {
  auto reply =
      call("PATCH", "/api/v1/pools/web/backends/tcp:%2F%2F127.0.0.1:7002", R"({"weight": 4})");
  ASSERT_EQ(reply.status, 200) << reply.body.dump();
  EXPECT_EQ(reply.body["weight"], 4);
  ASSERT_EQ(published_.size(), 1U);
  EXPECT_EQ(published_[0]->weights[0], (std::vector<std::uint32_t>{1, 4}));
  ASSERT_TRUE(published_[0]->maglev_tables[0]);
  std::uint32_t owned = 0;
  for (std::uint32_t entry : published_[0]->maglev_tables[0]->entries()) owned += entry == 1;
  EXPECT_NEAR(owned, 1009 * 4 / 5, 5);
}

TEST_F(RouterTest, Errors) {
  EXPECT_EQ(call("PATCH", "/api/v1/pools/nope/backends/one", R"({"state":"drain"})").status, 404);
  EXPECT_EQ(call("PATCH", "/api/v1/pools/web/backends/two", R"({"state":"drain"})").status, 404);
  EXPECT_EQ(call("GET", "/api/v1/pools/nope").status, 404);
  EXPECT_EQ(call("GET", "/api/v2/status").status, 404);
  EXPECT_EQ(call("GET", "/dashboard/nothing.js").status, 404);
  EXPECT_EQ(call("GET", "/dashboard/a/b").status, 404);
  EXPECT_EQ(call("POST", "/api/v1/status").status, 405);
  EXPECT_EQ(call("GET", "/api/v1/pools/web/backends/one").status, 405);
  for (const char* body :
       {"", "{", "[]", "3", R"({"state": "off"})", R"({"state": 1})", R"({"weight": 0})",
        R"({"weight": 10001})", R"({"weight": -1})", R"({"weight": 1.5})", R"({"weight": "2"})",
        R"({})", R"({"state": "drain", "extra": 1})"}) {
    auto reply = call("PATCH", "/api/v1/pools/web/backends/one", body);
    EXPECT_EQ(reply.status, 400) << body;
    EXPECT_TRUE(reply.body.contains("error")) << body;
  }
  auto unauthorized =
      call("PATCH", "/api/v1/pools/web/backends/one", R"({"state":"drain"})", false);
  EXPECT_EQ(unauthorized.status, 401);
  EXPECT_TRUE(published_.empty());
  // Reads need no token.
  EXPECT_EQ(call("GET", "/api/v1/pools/web", "", false).status, 200);
}

TEST_F(RouterTest, AddAndRemoveBackendGoThroughTheApplyHook) {
  // Without the hook (as here, before any is wired) a change is refused, never half-made.
  EXPECT_EQ(
      call("POST", "/api/v1/pools/web/backends", R"({"address": "tcp://127.0.0.1:7003"})").status,
      400);
  EXPECT_EQ(call("DELETE", "/api/v1/pools/web/backends/one").status, 400);
  EXPECT_EQ(call("GET", "/api/v1/pools/web/backends").status, 405);
  EXPECT_EQ(call("PUT", "/api/v1/pools/web/backends/one").status, 405);
  EXPECT_EQ(call("POST", "/api/v1/reload", "", /*may_change=*/false).status, 401);

  std::vector<config::Config> applied;
  ControllerHooks hooks;
  hooks.apply_config = [&applied](config::Config next, std::string) {
    applied.push_back(next);
    return ReloadOutcome{.ok = false, .message = "not really", .warnings = {}, .changes = {}};
  };
  Controller controller(config_, StartInfo{"9.9", 3, "abc", 0}, hooks);
  auto add = [&](std::string_view body) {
    return route(controller, ApiRequest{"POST", "/api/v1/pools/web/backends", body, true});
  };
  // Checked before anything is applied: kind, duplicate names, unknown keys, ranges.
  EXPECT_EQ(add(R"({"address": "udp://127.0.0.1:53"})").status, 400);
  EXPECT_EQ(add(R"({"address": "tcp://127.0.0.1:7003", "name": "one"})").status, 400);
  EXPECT_EQ(add(R"({"address": "tcp://127.0.0.1:7003", "colour": "red"})").status, 400);
  EXPECT_EQ(add(R"({"address": "tcp://127.0.0.1:7003", "weight": 0})").status, 400);
  EXPECT_EQ(add(R"({"name": "x"})").status, 400);
  EXPECT_TRUE(applied.empty());
  // A good one reaches the hook with the backend appended; the hook's refusal is the answer.
  const ApiReply reply = add(R"({"address": "tcp://127.0.0.1:7003", "weight": 4})");
  EXPECT_EQ(reply.status, 400);
  EXPECT_EQ(reply.body["error"], "not really");
  ASSERT_EQ(applied.size(), 1U);
  ASSERT_EQ(applied[0].pools[0].backends.size(), 3U);
  EXPECT_EQ(applied[0].pools[0].backends[2].name, "tcp://127.0.0.1:7003");
  EXPECT_EQ(applied[0].pools[0].backends[2].weight, 4U);
  const ApiReply removed =
      route(controller, ApiRequest{"DELETE", "/api/v1/pools/web/backends/one", "", true});
  EXPECT_EQ(removed.status, 400);
  ASSERT_EQ(applied.size(), 2U);
  ASSERT_EQ(applied[1].pools[0].backends.size(), 1U);
  EXPECT_EQ(applied[1].pools[0].backends[0].name, "tcp://127.0.0.1:7002");
}

TEST_F(RouterTest, UpgradeIsAPostOverTheUnixSocketOnly) {
  // Not wired here: refused, nothing opened.
  EXPECT_EQ(call("POST", "/api/v1/upgrade").status, 400);
  EXPECT_EQ(call("GET", "/api/v1/upgrade").status, 405);
  const ApiRequest over_tcp{.method = "POST",
                            .target = "/api/v1/upgrade",
                            .body = "",
                            .may_change = true,
                            .over_unix = false};
  EXPECT_EQ(route(*controller_, over_tcp).status, 403);

  ControllerHooks hooks;
  int asked = 0;
  hooks.upgrade = [&asked] {
    ++asked;
    return ReloadOutcome{
        .ok = true, .message = "/run/l4lb/admin.sock.upgrade-7", .warnings = {}, .changes = {}};
  };
  Controller controller(config_, StartInfo{"9.9", 3, "abc", 0}, hooks);
  const ApiRequest over_unix{.method = "POST",
                             .target = "/api/v1/upgrade",
                             .body = "",
                             .may_change = true,
                             .over_unix = true};
  auto reply = route(controller, over_unix);
  EXPECT_EQ(reply.status, 200);
  EXPECT_EQ(reply.body["socket"], "/run/l4lb/admin.sock.upgrade-7");
  EXPECT_EQ(route(controller, ApiRequest{.method = "POST",
                                         .target = "/api/v1/upgrade",
                                         .body = "",
                                         .may_change = true,
                                         .over_unix = false})
                .status,
            403);
  EXPECT_EQ(asked, 1);
}

}  // namespace
}  // namespace l4lb::admin

namespace l4lb::admin {
namespace {

// GET /api/v1/sessions lists what the workers answer; DELETE /api/v1/sessions/{id} ends one,
// a change like any other (a token over TCP).
TEST(SessionsRoute, ListsAndEndsSessions) {
  auto loaded = config::loadConfigText(kConfig, "test.toml");
  ASSERT_TRUE(loaded.ok());
  std::vector<std::uint64_t> ended;
  ControllerHooks hooks;
  hooks.sessions = [](bool& complete) {
    complete = false;
    proxy::SessionView view;
    view.id = proxy::sessionId(1, 7);
    view.listener = "front";
    view.client = "127.0.0.1:5000";
    view.backend = "one";
    view.state = "proxying";
    view.age_ms = 2500;
    view.bytes_in = 10;
    view.bytes_out = 20;
    return std::vector<proxy::SessionView>{view};
  };
  hooks.end_session = [&ended](std::uint64_t id) {
    ended.push_back(id);
    return id == proxy::sessionId(1, 7);
  };
  Controller controller(*loaded.config, StartInfo{"9.9", 2, "abc", 0}, hooks);
  auto call = [&](std::string_view method, std::string_view target, bool may_change = true) {
    return route(controller, ApiRequest{method, target, "", may_change});
  };
  auto list = call("GET", "/api/v1/sessions", false);
  ASSERT_EQ(list.status, 200) << list.body.dump();
  ASSERT_EQ(list.body["sessions"].size(), 1U);
  const auto& s = list.body["sessions"][0];
  EXPECT_EQ(s["id"], std::to_string(proxy::sessionId(1, 7)));
  EXPECT_EQ(s["client"], "127.0.0.1:5000");
  EXPECT_EQ(s["backend"], "one");
  EXPECT_EQ(s["age_seconds"], 2);
  EXPECT_EQ(s["bytes_out"], 20);
  EXPECT_EQ(list.body["complete"], false);

  const std::string id = s["id"];
  EXPECT_EQ(call("DELETE", "/api/v1/sessions/" + id, false).status, 401);
  EXPECT_TRUE(ended.empty());
  auto done = call("DELETE", "/api/v1/sessions/" + id);
  EXPECT_EQ(done.status, 200) << done.body.dump();
  EXPECT_EQ(call("DELETE", "/api/v1/sessions/12").status, 404);
  EXPECT_EQ(call("DELETE", "/api/v1/sessions/12x").status, 400);
  EXPECT_EQ(call("DELETE", "/api/v1/sessions/-1").status, 400);
  EXPECT_EQ(call("POST", "/api/v1/sessions").status, 405);
  EXPECT_EQ(call("GET", "/api/v1/sessions/12").status, 405);
  EXPECT_EQ(ended, (std::vector<std::uint64_t>{proxy::sessionId(1, 7), 12}));
}

TEST(SessionIds, NameTheirWorker) {
  EXPECT_EQ(proxy::sessionWorker(proxy::sessionId(3, 99)), 3U);
  EXPECT_NE(proxy::sessionId(0, 1), proxy::sessionId(1, 1));
}

}  // namespace
}  // namespace l4lb::admin
