#pragma once

#include <httplib.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <list>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "admin/admin_connection.h"
#include "base/fd.h"

namespace l4lb::admin {

// One admin listener's connections, from accept to close. A single reader thread polls every
// connection that is between requests or partway through one, so a client trickling its request
// holds a descriptor but no thread; a connection goes to one of the serving threads only once
// its request is whole in memory (request_framing.h), and comes back after the response if it
// is kept alive, with any pipelined bytes. Deadlines (admin_limits.h) are kept here: a partial
// request at its deadline is answered 408 and closed; an idle kept-alive connection is closed
// at its idle timeout.
//
// It is also cpp-httplib's TaskQueue for the listener: httplib's accept loop hands each accepted
// socket to enqueue(), which runs the job at once on the accept thread (AdminHttpServer's
// process_and_close_socket, which calls admit()); shutdown() stops the reader and the serving
// threads and closes every connection.
class AdminConnectionReader final : public httplib::TaskQueue {
 public:
  // Runs one whole request on a serving thread; answers whether the connection stays open.
  using Serve = std::function<bool(AdminConnection&)>;

  AdminConnectionReader(Serve serve, std::chrono::seconds keep_alive);
  ~AdminConnectionReader() override;

  void enqueue(std::function<void()> fn) override { fn(); }
  void shutdown() override;

  // Takes an accepted connection (on the accept thread; returns once the reader has admitted,
  // or refused, it, so accepts go no faster than the reader admits).
  void admit(base::Fd fd, AccessContext context);

 private:
  struct Entry {
    std::unique_ptr<AdminConnection> connection;
    bool serving = false;
    bool idle = false;  // kept alive, between requests
    bool closing = false;
    AdminClock::time_point waiting_since;
    AdminClock::time_point deadline;
  };
  struct Return {
    AdminConnection* connection;
    bool keep;
  };
  struct Arrival {
    base::Fd fd;
    AccessContext context;
  };

  void run();
  void takeArrivals();
  void takeReturns();
  void admitOne(Arrival arrival);
  void onReadable(Entry& entry);
  void dispatchIfWhole(Entry& entry);
  void expire(AdminClock::time_point now);
  void close(Entry& entry, bool answer_408);
  void wake();

  Serve serve_;
  std::chrono::seconds keep_alive_;
  std::atomic<bool> stopping_{false};
  base::Fd wake_fd_;
  std::list<Entry> entries_;  // the reader thread's alone

  std::mutex mutex_;
  std::condition_variable admitted_;
  std::vector<Arrival> arrivals_;
  std::vector<Return> returns_;

  httplib::ThreadPool pool_;
  std::thread thread_;
};

}  // namespace l4lb::admin
