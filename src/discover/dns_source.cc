#include "discover/dns_source.h"

#include <ares.h>
#include <arpa/inet.h>
#include <fmt/format.h>
#include <poll.h>

#include <algorithm>
#include <chrono>
#include <map>
#include <mutex>
#include <vector>

#include "config/limits.h"
#include "net/endpoint.h"

namespace l4lb::discover {

namespace {

constexpr int kClassIn = 1;
constexpr int kTypeA = 1;
constexpr int kTypeAaaa = 28;
constexpr int kTypeSrv = 33;
constexpr int kTries = 2;

// One question's answer: the c-ares status and the raw reply, parsed later by c-ares itself.
struct Reply {
  bool done = false;
  int status = ARES_ETIMEOUT;
  std::vector<unsigned char> bytes;
};

void onReply(void* arg, int status, int /*timeouts*/, unsigned char* abuf, int alen) {
  auto* reply = static_cast<Reply*>(arg);
  reply->done = true;
  reply->status = status;
  if (abuf != nullptr && alen > 0) reply->bytes.assign(abuf, abuf + alen);
}

// NXDOMAIN and NODATA: the server says there is nothing, which is an answer.
bool isEmptyAnswer(int status) { return status == ARES_ENOTFOUND || status == ARES_ENODATA; }

// A c-ares channel for one question round, closed (its sockets too) when it goes.
class Channel {
 public:
  explicit Channel(const config::DiscoverConfig& config) {
    static std::once_flag initialised;
    std::call_once(initialised, [] { (void)ares_library_init(ARES_LIB_INIT_ALL); });
    ares_options options{};
    options.timeout = static_cast<int>(std::max<std::int64_t>(config.timeout.count() / kTries, 1));
    options.tries = kTries;
    // SERVFAIL and REFUSED come back as such instead of being retried as if unanswered.
    options.flags = ARES_FLAG_NOCHECKRESP;
    status_ = ares_init_options(&channel_, &options,
                                ARES_OPT_TIMEOUTMS | ARES_OPT_TRIES | ARES_OPT_FLAGS);
    if (status_ == ARES_SUCCESS && !config.server.empty()) {
      status_ = ares_set_servers_ports_csv(channel_, config.server.c_str());
    }
  }
  ~Channel() {
    if (channel_ != nullptr) ares_destroy(channel_);
  }
  Channel(const Channel&) = delete;
  Channel& operator=(const Channel&) = delete;

  [[nodiscard]] int status() const { return status_; }

  void ask(const std::string& name, int type, Reply& reply) {
    ares_query(channel_, name.c_str(), kClassIn, type, onReply, &reply);
  }

  // Runs until every question asked is answered or `deadline` passes (then they are
  // cancelled, each answering ARES_ECANCELLED).
  void wait(std::chrono::steady_clock::time_point deadline, const std::atomic<bool>& stop) {
    for (;;) {
      ares_socket_t sockets[ARES_GETSOCK_MAXNUM];
      const int bits = ares_getsock(channel_, sockets, ARES_GETSOCK_MAXNUM);
      std::vector<pollfd> fds;
      for (int i = 0; i < ARES_GETSOCK_MAXNUM; ++i) {
        short events = 0;
        if (ARES_GETSOCK_READABLE(bits, i)) events |= POLLIN;
        if (ARES_GETSOCK_WRITABLE(bits, i)) events |= POLLOUT;
        if (events != 0) fds.push_back(pollfd{sockets[i], events, 0});
      }
      if (fds.empty()) return;  // nothing outstanding
      const auto now = std::chrono::steady_clock::now();
      if (now >= deadline || stop.load(std::memory_order_relaxed)) {
        ares_cancel(channel_);
        return;
      }
      timeval most{};
      const auto left = std::chrono::duration_cast<std::chrono::microseconds>(deadline - now);
      most.tv_sec = static_cast<time_t>(left.count() / 1'000'000);
      most.tv_usec = static_cast<suseconds_t>(left.count() % 1'000'000);
      timeval wait{};
      const timeval* until = ares_timeout(channel_, &most, &wait);
      // At most 100 ms at a time, so that a stop is seen soon.
      const int ms =
          std::min(static_cast<int>(until->tv_sec * 1000 + until->tv_usec / 1000) + 1, 100);
      const int ready = ::poll(fds.data(), fds.size(), ms);
      if (ready <= 0) {
        ares_process_fd(channel_, ARES_SOCKET_BAD, ARES_SOCKET_BAD);  // timeouts
        continue;
      }
      for (const pollfd& fd : fds) {
        const bool readable = (fd.revents & (POLLIN | POLLERR | POLLHUP)) != 0;
        const bool writable = (fd.revents & POLLOUT) != 0;
        if (!readable && !writable) continue;
        ares_process_fd(channel_, readable ? fd.fd : ARES_SOCKET_BAD,
                        writable ? fd.fd : ARES_SOCKET_BAD);
      }
    }
  }

 private:
  ares_channel channel_ = nullptr;
  int status_ = ARES_SUCCESS;
};

struct Address {
  std::string text;  // "192.0.2.1", "[2001:db8::1]"
  int ttl = 0;
};

// The addresses of an A or AAAA reply; an error message when it is no answer to go by.
std::optional<std::string> readAddresses(const Reply& reply, int type, std::vector<Address>& out) {
  if (isEmptyAnswer(reply.status)) return std::nullopt;
  if (reply.status != ARES_SUCCESS) return std::string(ares_strerror(reply.status));
  const auto* bytes = reply.bytes.data();
  const int size = static_cast<int>(reply.bytes.size());
  constexpr int kMost = 256;
  hostent* host = nullptr;
  int count = kMost;
  char text[INET6_ADDRSTRLEN];
  if (type == kTypeA) {
    std::vector<ares_addrttl> ttls(kMost);
    const int status = ares_parse_a_reply(bytes, size, &host, ttls.data(), &count);
    if (host != nullptr) ares_free_hostent(host);
    if (isEmptyAnswer(status)) return std::nullopt;
    if (status != ARES_SUCCESS) return std::string(ares_strerror(status));
    for (int i = 0; i < count; ++i) {
      ::inet_ntop(AF_INET, &ttls[i].ipaddr, text, sizeof text);
      out.push_back(Address{text, ttls[i].ttl});
    }
  } else {
    std::vector<ares_addr6ttl> ttls(kMost);
    const int status = ares_parse_aaaa_reply(bytes, size, &host, ttls.data(), &count);
    if (host != nullptr) ares_free_hostent(host);
    if (isEmptyAnswer(status)) return std::nullopt;
    if (status != ARES_SUCCESS) return std::string(ares_strerror(status));
    for (int i = 0; i < count; ++i) {
      ::inet_ntop(AF_INET6, &ttls[i].ip6addr, text, sizeof text);
      out.push_back(Address{fmt::format("[{}]", text), ttls[i].ttl});
    }
  }
  return std::nullopt;
}

struct SrvRecord {
  std::string target;
  unsigned short priority = 0;
  unsigned short weight = 0;
  unsigned short port = 0;
};

class ResultBuilder {
 public:
  explicit ResultBuilder(const config::DiscoverConfig& config)
      : scheme_(config.datagram ? "udp://" : "tcp://") {
    result_.answer.kind = AnswerKind::kRecords;
  }

  void add(const Address& address, unsigned short port, std::uint32_t weight, bool backup) {
    auto endpoint = net::parseEndpoint(fmt::format("{}{}:{}", scheme_, address.text, port));
    if (!endpoint) return;  // not an address the kernel takes: nothing to connect to
    result_.answer.set.backends.push_back(config::DiscoveredBackend{
        .address = std::move(endpoint).value(), .weight = weight, .backup = backup, .name = {}});
    const base::Duration ttl = std::chrono::seconds(std::max(address.ttl, 0));
    result_.ttl = result_.ttl ? std::min(*result_.ttl, ttl) : ttl;
  }

  DnsResult finish() && {
    if (result_.answer.set.backends.empty()) result_.answer.kind = AnswerKind::kEmpty;
    return std::move(result_);
  }

 private:
  std::string scheme_;
  DnsResult result_;
};

DnsResult failed(std::string why) {
  return DnsResult{.answer = Answer{.kind = AnswerKind::kError, .set = {}, .error = std::move(why)},
                   .ttl = std::nullopt};
}

DnsResult emptyResult() {
  return DnsResult{.answer = Answer{.kind = AnswerKind::kEmpty, .set = {}, .error = {}},
                   .ttl = std::nullopt};
}

std::chrono::steady_clock::time_point deadlineOf(const config::DiscoverConfig& config) {
  // c-ares' own timeouts end each question first; this bounds the round whatever happens.
  return std::chrono::steady_clock::now() + config.timeout + std::chrono::milliseconds(200);
}

DnsResult askAddresses(const config::DiscoverConfig& config, const std::atomic<bool>& stop) {
  Channel channel(config);
  if (channel.status() != ARES_SUCCESS) {
    return failed(fmt::format("resolver set-up: {}", ares_strerror(channel.status())));
  }
  const int type = config.type == config::DnsRecordType::kA ? kTypeA : kTypeAaaa;
  Reply reply;
  channel.ask(config.dns_name, type, reply);
  channel.wait(deadlineOf(config), stop);
  std::vector<Address> addresses;
  if (auto error = readAddresses(reply, type, addresses)) {
    return failed(
        fmt::format("{} {}: {}", config.dns_name, config::dnsRecordTypeName(config.type), *error));
  }
  ResultBuilder builder(config);
  for (const Address& address : addresses) builder.add(address, config.port, 1, false);
  return std::move(builder).finish();
}

DnsResult askSrv(const config::DiscoverConfig& config, const std::atomic<bool>& stop) {
  Channel channel(config);
  if (channel.status() != ARES_SUCCESS) {
    return failed(fmt::format("resolver set-up: {}", ares_strerror(channel.status())));
  }
  Reply reply;
  channel.ask(config.dns_name, kTypeSrv, reply);
  channel.wait(deadlineOf(config), stop);
  if (isEmptyAnswer(reply.status)) return emptyResult();
  if (reply.status != ARES_SUCCESS) {
    return failed(fmt::format("{} SRV: {}", config.dns_name, ares_strerror(reply.status)));
  }
  ares_srv_reply* parsed = nullptr;
  const int status =
      ares_parse_srv_reply(reply.bytes.data(), static_cast<int>(reply.bytes.size()), &parsed);
  std::vector<SrvRecord> records;
  for (const ares_srv_reply* r = parsed; r != nullptr; r = r->next) {
    records.push_back(SrvRecord{r->host, r->priority, r->weight, r->port});
  }
  if (parsed != nullptr) ares_free_data(parsed);
  if (isEmptyAnswer(status)) return emptyResult();
  if (status != ARES_SUCCESS) {
    return failed(fmt::format("{} SRV: {}", config.dns_name, ares_strerror(status)));
  }
  // RFC 2782: a target of "." means the service is decidedly not available here.
  std::erase_if(records, [](const SrvRecord& r) { return r.target.empty() || r.target == "."; });
  if (records.empty()) return emptyResult();

  // Every target's addresses, asked together.
  std::map<std::string, std::pair<Reply, Reply>> targets;
  for (const SrvRecord& r : records) targets.try_emplace(r.target);
  for (auto& [name, replies] : targets) {
    channel.ask(name, kTypeA, replies.first);
    channel.ask(name, kTypeAaaa, replies.second);
  }
  channel.wait(deadlineOf(config), stop);
  std::map<std::string, std::vector<Address>> addresses;
  for (auto& [name, replies] : targets) {
    auto& found = addresses[name];
    if (auto error = readAddresses(replies.first, kTypeA, found)) {
      return failed(fmt::format("{} SRV target {} A: {}", config.dns_name, name, *error));
    }
    if (auto error = readAddresses(replies.second, kTypeAaaa, found)) {
      return failed(fmt::format("{} SRV target {} AAAA: {}", config.dns_name, name, *error));
    }
  }
  unsigned short primary = records.front().priority;
  for (const SrvRecord& r : records) primary = std::min(primary, r.priority);
  // Lowest priority first, so that of an address named twice the primary's record is kept.
  std::stable_sort(records.begin(), records.end(),
                   [](const SrvRecord& a, const SrvRecord& b) { return a.priority < b.priority; });
  ResultBuilder builder(config);
  for (const SrvRecord& r : records) {
    for (const Address& address : addresses[r.target]) {
      builder.add(address, r.port, srvWeight(r.weight), r.priority != primary);
    }
  }
  return std::move(builder).finish();
}

}  // namespace

std::uint32_t srvWeight(unsigned short weight) {
  return std::clamp<std::uint32_t>(weight, 1, static_cast<std::uint32_t>(config::kMaxWeight));
}

DnsResult askDns(const config::DiscoverConfig& config, const std::atomic<bool>& stop) {
  return config.type == config::DnsRecordType::kSrv ? askSrv(config, stop)
                                                    : askAddresses(config, stop);
}

}  // namespace l4lb::discover
