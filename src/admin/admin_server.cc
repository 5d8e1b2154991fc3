#include "admin/admin_server.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <httplib.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <string_view>

#include "admin/admin_http_server.h"
#include "admin/router.h"
#include "base/fd.h"
#include "base/log.h"
#include "net/socket_holders.h"

namespace l4lb::admin {

namespace {

// On every answer (README.md, "Dashboard"): a page served from here may run only this origin's
// script and style and talk only to this origin (no inline script, no other host, no framing);
// no answer is sniffed into another type, kept in a cache, or read by another origin's script
// (no Access-Control-Allow-Origin is ever sent).
constexpr const char* kContentSecurityPolicy =
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
    "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

// Requests are small JSON documents; anything larger is a mistake or an attack.
constexpr std::size_t kMaxBodyBytes = 64 * 1024;

std::string unixPath(const net::Endpoint& endpoint) {
  const auto* sun = reinterpret_cast<const sockaddr_un*>(&endpoint.addr);
  return std::string(sun->sun_path, strnlen(sun->sun_path, sizeof(sun->sun_path)));
}

// What to do when the admin socket's place is not l4lb's to use (a non-root run, the default
// /run/l4lb): the two ways out, on the command line and in the file.
constexpr std::string_view kElsewhere =
    "give it a path l4lb may create ([admin] listen = [\"unix:///tmp/l4lb-admin.sock\"], or "
    "--admin unix:///tmp/l4lb-admin.sock with --listen), or [admin] listen = [] to run without "
    "it";

// Prepares the path of a unix:// admin socket: its directory exists (created 0755 when missing,
// one level), and no other process is serving there; a stale socket file is removed.
base::Result<void> preparePath(const net::Endpoint& endpoint, const std::string& path) {
  const std::string& url = endpoint.url;
  const std::size_t slash = path.rfind('/');
  if (slash != std::string::npos && slash > 0) {
    const std::string dir = path.substr(0, slash);
    struct stat st {};
    if (::stat(dir.c_str(), &st) != 0) {
      if (::mkdir(dir.c_str(), 0755) != 0) {
        return base::failure(
            fmt::format("admin listener {}: cannot create the directory {}: {} ({})", url, dir,
                        std::strerror(errno), kElsewhere));
      }
    } else if (!S_ISDIR(st.st_mode)) {
      return base::failure(fmt::format("admin listener {}: {} is not a directory", url, dir));
    }
  }
  struct stat st {};
  if (::lstat(path.c_str(), &st) != 0) return {};
  if (!S_ISSOCK(st.st_mode)) {
    return base::failure(
        fmt::format("admin listener {}: {} exists and is not a socket", url, path));
  }
  base::Fd probe(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_un sun{};
  sun.sun_family = AF_UNIX;
  std::memcpy(sun.sun_path, path.data(), std::min(path.size(), sizeof(sun.sun_path) - 1));
  if (probe && ::connect(probe.get(), reinterpret_cast<const sockaddr*>(&sun), sizeof(sun)) == 0) {
    auto others = net::otherSocketsOn(endpoint);
    const std::string who =
        others && !others->empty() ? net::describeOthers(*others) : "a process not visible here";
    return base::failure(fmt::format(
        "admin listener {}: another process is serving on {}: {} (another l4lb? give this one "
        "its own [admin] listen)",
        url, path, who));
  }
  if (::unlink(path.c_str()) != 0 && errno != ENOENT) {
    return base::failure(fmt::format("admin listener {}: cannot remove the stale socket {}: {}",
                                     url, path, std::strerror(errno)));
  }
  return {};
}

// Writes the router's reply (or a refusal in the same JSON shape).
void sendReply(const ApiReply& reply, httplib::Response& res) {
  res.status = reply.status;
  res.set_header("Content-Security-Policy", kContentSecurityPolicy);
  res.set_header("X-Content-Type-Options", "nosniff");
  res.set_header("Referrer-Policy", "no-referrer");
  res.set_header("Cache-Control", "no-store");
  if (reply.status == 401) res.set_header("WWW-Authenticate", "Bearer");
  if (!reply.content_type.empty()) {
    res.set_content(reply.text, reply.content_type);
    return;
  }
  // Names in errors come from the request's path: invalid UTF-8 there is replaced, not thrown.
  res.set_content(reply.body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n",
                  "application/json");
}

// Every method on every path goes to the router, once the request passed the listener's access
// checks (request_guard.h): over tcp:// only a request with the bearer token may change anything.
void routeRequests(AdminHttpServer& server, Controller& controller, bool tcp) {
  server.set_pre_routing_handler([](const httplib::Request& req, httplib::Response& res) {
    const AccessVerdict& verdict = AdminHttpServer::verdictFor(req);
    if (verdict.status == 0) return httplib::Server::HandlerResponse::Unhandled;
    sendReply(errorReply(verdict.status, verdict.message), res);
    return httplib::Server::HandlerResponse::Handled;
  });
  auto handle = [&controller, tcp](const httplib::Request& req, httplib::Response& res) {
    ApiReply reply =
        route(controller, ApiRequest{.method = req.method,
                                     .target = req.target,
                                     .body = req.body,
                                     .may_change = AdminHttpServer::verdictFor(req).may_change,
                                     .over_unix = !tcp});
    sendReply(reply, res);
  };
  server.Get(".*", handle);
  server.Patch(".*", handle);
  server.Post(".*", handle);
  server.Delete(".*", handle);
  server.Put(".*", handle);
  server.Delete(".*", handle);
}

base::Result<void> bindTcp(httplib::Server& server, const net::Endpoint& endpoint) {
  auto [host, port] = net::hostAndPort(endpoint);
  // cpp-httplib sets SO_REUSEPORT, which would let another process (a second l4lb) share the
  // port and answer half the requests: SO_REUSEADDR alone, so such a bind is refused.
  server.set_socket_options([](socket_t sock) {
    int one = 1;
    ::setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  });
  bool bound = false;
  if (port == 0) {
    port = server.bind_to_any_port(host);
    bound = port > 0;
  } else {
    bound = server.bind_to_port(host, port);
  }
  if (!bound) {
    return net::bindError(endpoint, errno != 0 ? errno : EADDRINUSE)
        .within("admin listener " + endpoint.url);
  }
  base::logInfo("admin API listening on tcp://{}{}{}:{}", endpoint.family() == AF_INET6 ? "[" : "",
                host, endpoint.family() == AF_INET6 ? "]" : "", port);
  return {};
}

base::Result<void> bindUnix(httplib::Server& server, const net::Endpoint& endpoint,
                            std::string& unix_path) {
  const std::string path = unixPath(endpoint);
  if (path.empty()) {
    return base::failure(
        fmt::format("admin listener {}: abstract sockets are not supported (no file "
                    "mode protects them)",
                    endpoint.url));
  }
  if (auto prepared = preparePath(endpoint, path); !prepared) return prepared;
  server.set_address_family(AF_UNIX);
  // Created 0600 from the start (not chmod'ed after, which would leave a window): only the
  // user l4lb runs as may connect. No other thread runs yet, so the umask is ours to change.
  const mode_t old_mask = ::umask(0177);
  errno = 0;
  const bool bound = server.bind_to_port(path, 80);
  const int bind_errno = errno;
  ::umask(old_mask);
  if (!bound) {
    base::Error error = net::bindError(endpoint, bind_errno != 0 ? bind_errno : EADDRINUSE);
    if (bind_errno == EACCES) {
      error = base::failure(fmt::format("{}; {}", error.message(), kElsewhere));
    }
    return std::move(error).within("admin listener " + endpoint.url);
  }
  unix_path = path;
  base::logInfo("admin API listening on {}", endpoint.url);
  return {};
}

}  // namespace

struct AdminServer::Listener {
  explicit Listener(AccessContext access) : server(std::move(access)) {}

  const net::Endpoint* endpoint = nullptr;
  std::string unix_path;  // unix:// only: unlinked at stop
  AdminHttpServer server;
  std::thread thread;
};

AdminServer::AdminServer(const config::AdminConfig& config, Controller& controller)
    : config_(config), controller_(controller) {}

AdminServer::~AdminServer() { stop(); }

base::Result<void> AdminServer::bind() {
  for (const auto& endpoint : config_.listen) {
    const bool tcp = endpoint.kind == net::EndpointKind::kTcp;
    auto listener = std::make_unique<Listener>(AccessContext{
        .over_unix = !tcp,
        .loopback_listener = !tcp || isLoopbackAddress(net::hostAndPort(endpoint).host),
        .local_ip = {},
        .local_port = 0,
        .token = config_.token});
    listener->endpoint = &endpoint;
    auto& server = listener->server;
    server.set_payload_max_length(kMaxBodyBytes);
    server.set_keep_alive_max_count(100);
    routeRequests(server, controller_, tcp);
    auto bound = tcp ? bindTcp(server, endpoint) : bindUnix(server, endpoint, listener->unix_path);
    if (!bound) return bound;
    listeners_.push_back(std::move(listener));
  }
  return {};
}

void AdminServer::start() {
  for (auto& listener : listeners_) {
    Listener* l = listener.get();
    l->thread = std::thread([l] { (void)l->server.listen_after_bind(); });
    // stop() must not race the thread to the listen loop, or it would stop nothing.
    for (int i = 0; i < 1000 && !l->server.is_running(); ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
  }
}

void AdminServer::stop() {
  for (auto& listener : listeners_) {
    listener->server.stop();
    if (listener->thread.joinable()) listener->thread.join();
    if (!listener->unix_path.empty()) {
      ::unlink(listener->unix_path.c_str());
      listener->unix_path.clear();
    }
  }
}

}  // namespace l4lb::admin
