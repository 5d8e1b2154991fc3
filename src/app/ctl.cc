#include "app/ctl.h"

#include <arpa/inet.h>
#include <fmt/core.h>
#include <httplib.h>
#include <sys/un.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "admin/router.h"
#include "app/ctl_reach.h"
#include "config/admin_lookup.h"
#include "net/endpoint.h"

namespace l4lb::app {

namespace {

using nlohmann::json;

enum class Action {
  kStatus,
  kListeners,
  kPools,
  kPool,
  kDrain,
  kEnable,
  kDisable,
  kWeight,
  kReload,
  kAdd,
  kRemove,
  kSessions,
  kEndSession,
  kAnnounce,
  kPacket,
  kListenerState,
  kLookup
};

// What the subcommand asks of the API.
struct ApiCall {
  Action action = Action::kStatus;
  std::string pool;
  std::string backend;
  std::uint32_t weight = 0;
  std::string address;   // add
  std::string name;      // add
  bool backup = false;   // add
  bool dry_run = false;  // reload: what it would change
  std::string session;   // end-session
  std::string listener;  // listener-drain, listener-enable, listener-disable
  std::string state;     // their verb
  std::string client;    // lookup
};

// Why a VIP is not announced, with the figures: "no backends up (1 of 2)", "hold-down (3 s
// left)", "discovery not synced: error: dns:...: timeout".
std::string whyNotAnnounced(const json& vip) {
  if (vip.value("announced", false)) return "-";
  const std::string reason = vip.value("reason", json(nullptr)).is_string()
                                 ? vip["reason"].get<std::string>()
                                 : std::string("-");
  if (reason == "no backends up") {
    return fmt::format("no backends up ({} of {})", vip.value("backends_up", 0),
                       vip.value("min_backends", 0));
  }
  const json discovery = vip.value("discovery", json(nullptr));
  if (reason == "discovery not synced" && discovery.is_string()) {
    return fmt::format("{}: {}", reason, discovery.get<std::string>());
  }
  const json until = vip.value("hold_down_until_unix_ms", json(nullptr));
  if (reason == "hold-down" && until.is_number()) {
    const auto now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                            std::chrono::system_clock::now().time_since_epoch())
                            .count();
    const std::int64_t left = std::max<std::int64_t>(0, until.get<std::int64_t>() - now_ms);
    return fmt::format("hold-down ({:.1f} s left)", static_cast<double>(left) / 1000.0);
  }
  return reason;
}

std::string text(const json& value) {
  if (value.is_null()) return "-";
  if (value.is_string()) return value.get<std::string>();
  return value.dump();
}

// Columns padded to their widest cell.
void printTable(const std::vector<std::string>& header,
                const std::vector<std::vector<std::string>>& rows) {
  std::vector<std::size_t> widths(header.size());
  for (std::size_t c = 0; c < header.size(); ++c) widths[c] = header[c].size();
  for (const auto& row : rows) {
    for (std::size_t c = 0; c < row.size() && c < widths.size(); ++c) {
      widths[c] = std::max(widths[c], row[c].size());
    }
  }
  auto print = [&](const std::vector<std::string>& row) {
    std::string line;
    for (std::size_t c = 0; c < row.size(); ++c) {
      line += row[c];
      if (c + 1 < row.size()) line += std::string(widths[c] - row[c].size() + 2, ' ');
    }
    fmt::print("{}\n", line);
  };
  print(header);
  for (const auto& row : rows) print(row);
}

// " 12s ago", or "" when the time is not known (a change from before a binary upgrade).
std::string ago(const json& event) {
  const json seconds = event.value("seconds_ago", json(nullptr));
  return seconds.is_number() ? fmt::format(" {}s ago", seconds.get<std::int64_t>()) : "";
}

// "failed 1s ago: connect: Connection refused"; "-" before any check.
std::string lastCheck(const json& check) {
  if (!check.is_object()) return "-";
  return fmt::format("{}{}: {}", text(check["result"]), ago(check), text(check["reason"]));
}

// "up->down 40s ago: role mismatch"; "-" before any change.
std::string lastChange(const json& change) {
  if (!change.is_object()) return "-";
  return fmt::format("{}->{}{}: {}", text(change["from"]), text(change["to"]), ago(change),
                     text(change["reason"]));
}

void printBackends(const json& backends) {
  std::vector<std::vector<std::string>> rows;
  for (const auto& b : backends) {
    rows.push_back(
        {text(b["name"]), text(b["address"]), text(b["state"]), text(b["weight"]),
         text(b.value("active", json(nullptr))), text(b.value("total", json(nullptr))),
         text(b.value("connect_failures", json(nullptr))), text(b.value("resets", json(nullptr))),
         text(b.value("bytes_in", json(nullptr))), text(b.value("bytes_out", json(nullptr))),
         lastCheck(b.value("last_check", json(nullptr))),
         lastChange(b.value("last_change", json(nullptr))),
         text(b.value("source", json("config")))});
  }
  printTable({"NAME", "ADDRESS", "STATE", "WEIGHT", "ACTIVE", "TOTAL", "CONNECT FAILURES", "RESETS",
              "BYTES IN", "BYTES OUT", "LAST CHECK", "LAST CHANGE", "SOURCE"},
             rows);
}

void printReadable(Action action, const json& body) {
  switch (action) {
    case Action::kStatus: {
      // The pid first: after a binary upgrade it is how the new process is told from the old.
      fmt::print("pid       {}\nversion   {}\nuptime    {} s\nworkers   {}\n",
                 text(body.value("pid", json(nullptr))), text(body["version"]),
                 text(body["uptime_seconds"]), text(body["workers"]));
      fmt::print("config    {} (generation {})\nsha256    {}\n", text(body["config"]["file"]),
                 text(body.value("config_generation", json(nullptr))),
                 text(body["config"]["sha256"]));
      const json reloads = body.value("reloads", json::object());
      const json last = reloads.value("last", json(nullptr));
      if (last.is_object()) {
        fmt::print("reloads   {} ok, {} failed; last {}{}: {}\n",
                   text(reloads.value("ok", json(nullptr))),
                   text(reloads.value("failed", json(nullptr))), text(last["result"]), ago(last),
                   text(last["message"]));
      }
      return;
    }
    case Action::kListeners: {
      std::vector<std::vector<std::string>> rows;
      for (const auto& l : body["listeners"]) {
        rows.push_back({text(l["name"]), text(l["bind"]), text(l["kind"]), text(l["pool"])});
      }
      printTable({"NAME", "BIND", "KIND", "POOL"}, rows);
      return;
    }
    case Action::kPools: {
      std::vector<std::vector<std::string>> rows;
      for (const auto& p : body["pools"]) {
        const json change = p.value("last_change", json(nullptr));
        rows.push_back(
            {text(p["name"]), text(p["balance"]), text(p["kind"]),
             fmt::format("{}/{}", text(p["backends_available"]), text(p["backends_total"])),
             text(p.value("checks_failing", json(nullptr))),
             change.is_object() ? text(change["backend"]) + " " + lastChange(change) : "-",
             p.value("discover", json(nullptr)).is_string() ? text(p["discover"]) : "-"});
      }
      printTable(
          {"NAME", "BALANCE", "KIND", "AVAILABLE", "FAILING CHECKS", "LAST CHANGE", "DISCOVER"},
          rows);
      return;
    }
    case Action::kPool: {
      // One line before the table, whatever the algorithm: completion reads the names below it.
      const json maglev = body.value("maglev", json(nullptr));
      const std::string table =
          maglev.is_object() ? fmt::format(", table {} slots, digest {}",
                                           text(maglev["table_size"]), text(maglev["digest"]))
                             : "";
      fmt::print("pool {} ({}, {}{})\n", text(body["name"]), text(body["balance"]),
                 text(body["kind"]), table);
      printBackends(body["backends"]);
      return;
    }
    case Action::kLookup: {
      const json backend = body.value("backend", json(nullptr));
      const json owner = body.value("table_owner", json(nullptr));
      const auto named = [](const json& b) {
        return b.is_object() ? fmt::format("{}  {}  ({})", text(b["name"]), text(b["address"]),
                                           text(b["state"]))
                             : std::string("none");
      };
      fmt::print("client   {} (hash_key {})\n", text(body["client"]), text(body["hash_key"]));
      fmt::print("backend  {}\n", backend.is_object() ? named(backend)
                                                      : "none: every backend is down, draining or "
                                                        "disabled (no-backend)");
      fmt::print("slot     {} of {}, owned by {}{}\n", text(body["slot"]), text(body["table_size"]),
                 named(owner),
                 body.value("fallback", false) && backend.is_object() ? ": fell back" : "");
      fmt::print("digest   {}\n", text(body["digest"]));
      return;
    }
    case Action::kSessions: {
      std::vector<std::vector<std::string>> rows;
      for (const auto& s : body["sessions"]) {
        rows.push_back({text(s["id"]), text(s["listener"]), text(s["client"]), text(s["backend"]),
                        text(s["state"]), fmt::format("{} s", text(s["age_seconds"])),
                        text(s["bytes_in"]), text(s["bytes_out"])});
      }
      printTable({"ID", "LISTENER", "CLIENT", "BACKEND", "STATE", "AGE", "BYTES IN", "BYTES OUT"},
                 rows);
      if (!body.value("complete", true)) {
        fmt::print(stderr, "l4lb ctl: a worker did not answer in time: its sessions are missing\n");
      }
      return;
    }
    case Action::kEndSession: fmt::print("session {} ended\n", text(body["id"])); return;
    case Action::kAnnounce: {
      std::vector<std::vector<std::string>> rows;
      for (const auto& v : body["vips"]) {
        rows.push_back({text(v["listener"]), text(v["vip"]),
                        v.value("announced", false) ? "yes" : "no", whyNotAnnounced(v),
                        fmt::format("{}/{}", text(v["backends_up"]), text(v["min_backends"])),
                        text(v["changes"])});
      }
      printTable({"LISTENER", "VIP", "ANNOUNCED", "WHY NOT", "UP/MIN", "CHANGES"}, rows);
      return;
    }
    case Action::kPacket: {
      std::vector<std::vector<std::string>> rows;
      for (const auto& v : body["vips"]) {
        const auto& c = v["counters"];
        rows.push_back({text(v["listener"]), text(v["vip"]), text(v["forward"]),
                        text(v["interface"]), text(v["pool"]), text(c["packets"]), text(c["bytes"]),
                        text(c["new_flows"]), text(c["conn_misses"])});
      }
      printTable({"LISTENER", "VIP", "FORWARD", "INTERFACE", "POOL", "PACKETS", "BYTES",
                  "NEW FLOWS", "MISSES"},
                 rows);
      rows.clear();
      for (const auto& b : body["backends"]) {
        const auto& c = b["counters"];
        rows.push_back({text(b["pool"]), text(b["backend"]), text(b["address"]),
                        b.value("down", false) ? "down" : "up",
                        b.value("in_table", false) ? "yes" : "no", text(c["packets"]),
                        text(c["bytes"]), text(c["new_flows"])});
      }
      fmt::print("\n");
      printTable(
          {"POOL", "BACKEND", "ADDRESS", "STATE", "IN TABLE", "PACKETS", "BYTES", "NEW FLOWS"},
          rows);
      for (const auto& i : body["interfaces"]) {
        std::string events;
        for (const auto& [name, value] : i["events"].items()) {
          events += fmt::format(" {}={}", name, text(value));
        }
        fmt::print("\n{} (XDP program {}):{}\n", text(i["interface"]), text(i["program_id"]),
                   events);
      }
      return;
    }
    case Action::kListenerState:
      fmt::print("listener {}: {}\n", text(body["name"]), text(body["admin_state"]));
      return;
    case Action::kRemove:
    case Action::kReload:
      if (body.contains("changes")) {
        // A dry run: one change a line.
        const auto& changes = body["changes"];
        if (changes.empty()) fmt::print("a reload would change nothing\n");
        for (const auto& change : changes) fmt::print("{}\n", text(change));
      } else {
        fmt::print("{}\n", text(body["message"]));
      }
      // A removal's answer has no warnings; a missing key must not be read from a const json.
      for (const auto& warning : body.value("warnings", json::array())) {
        fmt::print("warning: {}\n", text(warning));
      }
      return;
    default: printBackends(json::array({body})); return;
  }
}

// The admin API's URL: --socket, else the config's first [admin] listen, else the default.
// None (the reason printed) when the config cannot say. A config with errors elsewhere still
// says (with a warning): ctl is what an operator reaches for after a bad edit.
std::optional<std::string> adminUrl(const std::string& socket, const std::string& config_file) {
  std::string url = socket.empty() ? std::string() : adminUrlOf(socket);
  if (url.empty() && !config_file.empty()) {
    const config::AdminLookup found = config::findAdminConfig(config_file);
    if (!found.admin) {
      fmt::print(stderr, "l4lb ctl: cannot find the admin API in {}: {}\n", config_file,
                 found.why_not);
      return std::nullopt;
    }
    if (found.admin->listen.empty()) {
      fmt::print(stderr, "l4lb ctl: {} turns the admin API off ([admin] listen = [])\n",
                 config_file);
      return std::nullopt;
    }
    url = found.admin->listen.front().url;
    if (!found.file_errors.empty()) {
      fmt::print(stderr,
                 "l4lb ctl: warning: {} has {} error{} (the first: {}; `l4lb check -c {}` lists "
                 "them); ctl goes on with the admin API it names: {}\n",
                 config_file, found.file_errors.size(), found.file_errors.size() == 1 ? "" : "s",
                 found.file_errors.front().format(), config_file, url);
    }
  }
  if (url.empty()) url = std::string(config::kDefaultAdminListen);
  return url;
}

// A client of the admin API at `url` (unix:// or tcp://); null (the reason printed) for any
// other URL.
std::unique_ptr<httplib::Client> clientFor(const std::string& url) {
  auto parsed = net::parseEndpoint(url);
  if (!parsed) {
    fmt::print(stderr, "l4lb ctl: --socket {}: {}\n", url, parsed.error().message());
    return nullptr;
  }
  const net::Endpoint& endpoint = *parsed;
  std::unique_ptr<httplib::Client> client;
  if (endpoint.kind == net::EndpointKind::kUnix) {
    const auto* sun = reinterpret_cast<const sockaddr_un*>(&endpoint.addr);
    client = std::make_unique<httplib::Client>(std::string(sun->sun_path), 80);
    client->set_address_family(AF_UNIX);
  } else if (endpoint.kind == net::EndpointKind::kTcp) {
    const net::HostPort address = net::hostAndPort(endpoint);
    client = std::make_unique<httplib::Client>(address.host, address.port);
  } else {
    fmt::print(stderr, "l4lb ctl: --socket must be a path, unix:///PATH or tcp://HOST:PORT\n");
    return nullptr;
  }
  client->set_connection_timeout(5, 0);
  client->set_read_timeout(10, 0);
  return client;
}

httplib::Headers authorizationHeaders(const std::string& token_file) {
  httplib::Headers headers;
  if (!token_file.empty()) {
    std::ifstream in(token_file);
    std::string token;
    std::getline(in, token);
    while (!token.empty() && (token.back() == '\r' || token.back() == ' ')) token.pop_back();
    headers.emplace("Authorization", "Bearer " + token);
  }
  return headers;
}

httplib::Result callApi(httplib::Client& client, const ApiCall& call,
                        const httplib::Headers& headers) {
  const std::string base = "/api/v1/";
  switch (call.action) {
    case Action::kStatus: return client.Get(base + "status", headers);
    case Action::kListeners: return client.Get(base + "listeners", headers);
    case Action::kPools: return client.Get(base + "pools", headers);
    case Action::kPool:
      return client.Get(base + "pools/" + admin::encodeSegment(call.pool), headers);
    case Action::kLookup:
      return client.Get(base + "pools/" + admin::encodeSegment(call.pool) +
                            "/lookup?client=" + admin::encodeSegment(call.client),
                        headers);
    case Action::kReload:
      return client.Post(base + (call.dry_run ? "reload/dry-run" : "reload"), headers, "",
                         "application/json");
    case Action::kSessions: return client.Get(base + "sessions", headers);
    case Action::kAnnounce: return client.Get(base + "announce", headers);
    case Action::kPacket: return client.Get(base + "packet", headers);
    case Action::kListenerState:
      return client.Patch(base + "listeners/" + admin::encodeSegment(call.listener), headers,
                          json{{"state", call.state}}.dump(), "application/json");
    case Action::kEndSession:
      return client.Delete(base + "sessions/" + admin::encodeSegment(call.session), headers);
    case Action::kAdd: {
      json body{{"address", call.address}};
      if (!call.name.empty()) body["name"] = call.name;
      if (call.weight != 0) body["weight"] = call.weight;
      if (call.backup) body["backup"] = true;
      return client.Post(base + "pools/" + admin::encodeSegment(call.pool) + "/backends", headers,
                         body.dump(), "application/json");
    }
    case Action::kRemove:
      return client.Delete(base + "pools/" + admin::encodeSegment(call.pool) + "/backends/" +
                               admin::encodeSegment(call.backend),
                           headers);
    default: {
      json body;
      if (call.action == Action::kWeight) {
        body["weight"] = call.weight;
      } else {
        body["state"] = call.action == Action::kDrain    ? "drain"
                        : call.action == Action::kEnable ? "enable"
                                                         : "disable";
      }
      return client.Patch(base + "pools/" + admin::encodeSegment(call.pool) + "/backends/" +
                              admin::encodeSegment(call.backend),
                          headers, body.dump(), "application/json");
    }
  }
}

}  // namespace

struct CtlCommand::Options {
  CLI::App* ctl = nullptr;
  std::string socket;
  std::string config;
  std::string token_file;
  bool json_output = false;
  ApiCall call;
};

// The subcommands and their arguments, one after another: a table, clearer whole.
CtlCommand::CtlCommand(CLI::App& app) : options_(std::make_unique<Options>()) {
  Options& o = *options_;
  o.ctl = app.add_subcommand("ctl", "Query or change a running l4lb through its admin API");
  o.ctl->require_subcommand(1);
  o.ctl->add_option("--socket", o.socket,
                    "Admin API: a socket's PATH, unix:///PATH or tcp://HOST:PORT (default: the "
                    "config's first [admin] listen, else unix:///run/l4lb/admin.sock)");
  o.ctl->add_option("-c,--config", o.config, "Config file to take the admin URL from")
      ->check(CLI::ExistingFile);
  o.ctl->add_option("--token-file", o.token_file, "Bearer token for changes over tcp://")
      ->check(CLI::ExistingFile);
  o.ctl->add_flag("--json", o.json_output, "Print the API's JSON instead of a table");
  o.ctl->fallthrough();

  auto simple = [&o](CLI::App* sub, Action action) {
    sub->callback([&o, action] { o.call.action = action; });
  };
  simple(
      o.ctl->add_subcommand(
          "status", "Pid, version, uptime, workers, config file, generation and hash, last reload"),
      Action::kStatus);
  simple(o.ctl->add_subcommand("listeners", "Every listener"), Action::kListeners);
  auto* reload = o.ctl->add_subcommand("reload", "Load the config file again and switch to it");
  reload->add_flag("--dry-run", o.call.dry_run,
                   "Only say what the reload would change (backends, weights, checks, limits, "
                   "per listener and pool), changing nothing");
  simple(reload, Action::kReload);
  simple(o.ctl->add_subcommand("pools", "Every pool, with how many backends are available"),
         Action::kPools);
  auto* pool = o.ctl->add_subcommand(
      "pool", "One pool's backends: state, weight, counters (maglev: the table's digest)");
  pool->add_option("POOL", o.call.pool, "Pool name")->required();
  simple(pool, Action::kPool);
  auto* lookup = o.ctl->add_subcommand(
      "lookup", "Which backend a new connection from CLIENT gets now (maglev pools)");
  lookup->add_option("POOL", o.call.pool, "Pool name")->required();
  lookup
      ->add_option("CLIENT", o.call.client,
                   "IP, or IP:PORT / [IPv6]:PORT (needed with hash_key = \"client-ip-port\")")
      ->required();
  simple(lookup, Action::kLookup);
  struct StateVerb {
    const char* name;
    const char* help;
    Action action;
  };
  for (const StateVerb& verb :
       {StateVerb{"drain", "No new connections to BACKEND; open ones continue", Action::kDrain},
        StateVerb{"enable", "BACKEND takes new connections again", Action::kEnable},
        StateVerb{"disable", "As drain, and pause BACKEND's active checks", Action::kDisable}}) {
    auto* sub = o.ctl->add_subcommand(verb.name, verb.help);
    sub->add_option("POOL", o.call.pool, "Pool name")->required();
    sub->add_option("BACKEND", o.call.backend, "Backend name (its name key, or its address)")
        ->required();
    simple(sub, verb.action);
  }
  auto* weight = o.ctl->add_subcommand("weight", "Set BACKEND's weight");
  weight->add_option("POOL", o.call.pool, "Pool name")->required();
  weight->add_option("BACKEND", o.call.backend, "Backend name")->required();
  weight->add_option("WEIGHT", o.call.weight, "1..10000")
      ->required()
      ->check(CLI::Range(1U, admin::kMaxAdminWeight));
  simple(weight, Action::kWeight);
  auto* add = o.ctl->add_subcommand(
      "add", "Add a backend to POOL (the running config only: a reload from the file drops it)");
  add->add_option("POOL", o.call.pool, "Pool name")->required();
  add->add_option("ADDRESS", o.call.address, "tcp://HOST:PORT, unix:///PATH, udp://HOST:PORT, ...")
      ->required();
  add->add_option("--name", o.call.name, "Backend name (default: the address)");
  add->add_option("--weight", o.call.weight, "1..10000 (default 1)")
      ->check(CLI::Range(1U, admin::kMaxAdminWeight));
  add->add_flag("--backup", o.call.backup, "Used only while no primary backend is up");
  simple(add, Action::kAdd);
  auto* remove = o.ctl->add_subcommand(
      "remove", "Remove BACKEND from POOL: its open connections finish, new ones go elsewhere");
  remove->add_option("POOL", o.call.pool, "Pool name")->required();
  remove->add_option("BACKEND", o.call.backend, "Backend name")->required();
  simple(remove, Action::kRemove);
  simple(o.ctl->add_subcommand("sessions",
                               "Open stream connections: client, backend, listener, "
                               "age, bytes each way"),
         Action::kSessions);
  auto* end_session = o.ctl->add_subcommand(
      "end-session", "End one connection (ID from `ctl sessions`), resetting both sides");
  end_session->add_option("ID", o.call.session, "Session id")->required();
  simple(end_session, Action::kEndSession);
  simple(o.ctl->add_subcommand("announce",
                               "Each VIP of a listener with announce = true: announced or not, "
                               "and why not"),
         Action::kAnnounce);
  simple(o.ctl->add_subcommand("packet",
                               "The packet path (forward = dsr, ipip): each VIP's and backend's "
                               "packets, bytes and new flows, each interface's events"),
         Action::kPacket);
  for (const StateVerb& verb :
       {StateVerb{"listener-drain", "Withdraw LISTENER's VIP; it goes on accepting",
                  Action::kListenerState},
        StateVerb{"listener-disable", "As listener-drain", Action::kListenerState},
        StateVerb{"listener-enable", "LISTENER's VIP may be announced again",
                  Action::kListenerState}}) {
    auto* sub = o.ctl->add_subcommand(verb.name, verb.help);
    sub->add_option("LISTENER", o.call.listener, "Listener name")->required();
    const std::string state = std::string(verb.name).substr(std::string("listener-").size());
    sub->callback([&o, state] {
      o.call.action = Action::kListenerState;
      o.call.state = state;
    });
  }
}

CtlCommand::~CtlCommand() = default;

bool CtlCommand::parsed() const { return options_->ctl->parsed(); }

int CtlCommand::run() {
  const Options& o = *options_;
  const std::optional<std::string> url = adminUrl(o.socket, o.config);
  if (!url) return 2;
  const std::unique_ptr<httplib::Client> client = clientFor(*url);
  if (!client) return 2;
  httplib::Result result = callApi(*client, o.call, authorizationHeaders(o.token_file));
  if (!result) {
    // The client says only "Connection": ask the system why, trying as the client did.
    std::string why;
    if (result.error() == httplib::Error::Connection) {
      if (auto endpoint = net::parseEndpoint(*url)) why = whyUnreachable(*endpoint);
    }
    if (why.empty()) why = httplib::to_string(result.error());
    fmt::print(stderr, "l4lb ctl: cannot reach the admin API at {}: {}\n", *url, why);
    return 2;
  }
  json body = json::parse(result->body, nullptr, /*allow_exceptions=*/false);
  if (body.is_discarded()) {
    fmt::print(stderr, "l4lb ctl: {} answered {} with a body that is not JSON\n", *url,
               result->status);
    return 2;
  }
  if (result->status != 200) {
    if (o.json_output) fmt::print("{}\n", body.dump(2));
    fmt::print(stderr, "l4lb ctl: {} (HTTP {})\n", text(body.value("error", json(nullptr))),
               result->status);
    return 1;
  }
  if (o.json_output) {
    fmt::print("{}\n", body.dump(2));
  } else {
    printReadable(o.call.action, body);
  }
  return 0;
}

}  // namespace l4lb::app
