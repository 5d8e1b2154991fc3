// l4load: the fault suite's load driver and backends (docs/reliability.md).
//   l4load server --listen 127.0.0.1:9001 [--udp 127.0.0.1:9001] --id b1 --summary FILE
//   l4load client --target 127.0.0.1:8000 --mode echo --bytes 65536 --concurrency 100 --count 1000
//   l4load udp-client --target 127.0.0.1:5300 --flows 1000 --requests 10
// Every run is bounded in count and time and prints (or writes) a JSON summary.
#include <CLI/CLI.hpp>
#include <charconv>
#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include "client.h"
#include "server.h"
#include "udp_client.h"

namespace {

// "250ms", "10s", "2m", or a bare number of seconds.
std::uint64_t parseDurationMs(const std::string& text) {
  double value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc()) throw CLI::ValidationError("duration", text);
  const std::string_view unit(end, text.data() + text.size() - end);
  double scale = 1000;
  if (unit == "ms") {
    scale = 1;
  } else if (unit == "m") {
    scale = 60000;
  } else if (!unit.empty() && unit != "s") {
    throw CLI::ValidationError("duration", text);
  }
  return static_cast<std::uint64_t>(value * scale);
}

std::vector<l4load::Address> addresses(const std::vector<std::string>& texts, bool port) {
  std::vector<l4load::Address> out;
  for (const auto& t : texts) {
    auto a = l4load::parseAddress(t, port);
    if (!a) throw CLI::ValidationError("address", t);
    out.push_back(*a);
  }
  return out;
}

void emit(const nlohmann::json& summary, const std::string& path) {
  if (path.empty()) {
    std::printf("%s\n", summary.dump(2).c_str());
  } else {
    std::ofstream(path) << summary.dump(2) << '\n';
  }
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"l4load: load driver and backends that record every connection's truth"};
  app.require_subcommand(1);
  std::string summary_path, duration = "10s", connect_timeout = "5s", stall = "10s", gap = "0",
                            idle = "60s", reply_timeout = "1s";
  std::vector<std::string> targets, sources, listen, listen_udp;

  l4load::ClientOptions c;
  std::string mode = "echo";
  auto* client = app.add_subcommand("client", "open stream connections and check every byte");
  client->add_option("--target", targets, "HOST:PORT, taken in turn")->required();
  client->add_option("--source", sources, "a source address to bind, taken in turn");
  client->add_option("--mode", mode, "echo | source | sink | duplex");
  client->add_option("--bytes", c.bytes, "payload bytes per connection");
  client->add_option("--chunk", c.chunk, "bytes per burst (with --gap)");
  client->add_option("--gap", gap, "pause between bursts (e.g. 500ms)");
  client->add_option("--rate", c.rate, "new connections per second (default: --concurrency)");
  client->add_option("--concurrency", c.concurrency, "connections open at once");
  client->add_option("--count", c.count, "connections at most")->required();
  client->add_option("--duration", duration, "no new connection after this");
  client->add_option("--connect-timeout", connect_timeout);
  client->add_option("--stall", stall, "no byte either way this long: a timeout");
  client->add_option("--max-open", c.max_open, "descriptors at most");
  client->add_option("--seed", c.seed);
  client->add_option("--records", c.records_path, "one JSON line per connection to this file");
  client->add_option("--summary", summary_path, "write the JSON summary here (default stdout)");
  client->add_flag("--proxy-v1", c.proxy_v1, "send a PROXY v1 line first (its own addresses)");

  l4load::UdpClientOptions u;
  auto* udp = app.add_subcommand("udp-client", "request/response flows over UDP");
  udp->add_option("--target", targets)->required();
  udp->add_option("--source", sources);
  udp->add_option("--flows", u.flows)->required();
  udp->add_option("--concurrency", u.concurrency);
  udp->add_option("--requests", u.requests, "per flow");
  udp->add_option("--bytes", u.bytes, "payload per datagram")->check(CLI::Range(0, 60000));
  udp->add_option("--gap", gap);
  udp->add_option("--reply-timeout", reply_timeout);
  udp->add_option("--duration", duration);
  udp->add_option("--seed", u.seed);
  udp->add_option("--summary", summary_path);

  l4load::ServerOptions s;
  auto* server = app.add_subcommand("server", "echo/source/sink backend (the client picks)");
  server->add_option("--listen", listen, "HOST:PORT (TCP)");
  server->add_option("--udp", listen_udp, "HOST:PORT (UDP echo, replies tagged with --id)");
  server->add_option("--id", s.id);
  server->add_option("--summary", s.summary_path, "written on SIGUSR1, SIGTERM and at the end");
  server->add_option("--duration", duration, "exit after this")->default_val("600s");
  server->add_option("--idle-timeout", idle);

  CLI11_PARSE(app, argc, argv);
  try {
    if (*client) {
      c.targets = addresses(targets, true);
      c.sources = addresses(sources, false);
      auto m = l4load::parseMode(mode);
      if (!m) throw CLI::ValidationError("--mode", mode);
      c.mode = *m;
      c.gap_ms = parseDurationMs(gap);
      c.duration_ms = parseDurationMs(duration);
      c.connect_timeout_ms = parseDurationMs(connect_timeout);
      c.stall_ms = parseDurationMs(stall);
      emit(l4load::runClient(c), summary_path);
    } else if (*udp) {
      u.targets = addresses(targets, true);
      u.sources = addresses(sources, false);
      u.gap_ms = parseDurationMs(gap);
      u.duration_ms = parseDurationMs(duration);
      u.reply_timeout_ms = parseDurationMs(reply_timeout);
      emit(l4load::runUdpClient(u), summary_path);
    } else {
      s.listen = addresses(listen, true);
      s.listen_udp = addresses(listen_udp, true);
      s.duration_ms = parseDurationMs(duration);
      s.idle_timeout_ms = parseDurationMs(idle);
      return l4load::runServer(s);
    }
  } catch (const CLI::Error& e) {
    return app.exit(e);
  }
  return 0;
}
