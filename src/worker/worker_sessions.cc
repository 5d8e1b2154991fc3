// The admin API's view of a worker's open stream connections, and ending one of them (HAProxy's
// "show sess" and "shutdown session"). Both run on the worker's thread, posted as a job by the
// admin thread (app/worker_job.h): the data path takes no lock for them.

#include "worker/worker.h"

namespace l4lb::worker {

std::vector<proxy::SessionView> Worker::sessionViews() const {
  std::vector<proxy::SessionView> views;
  views.reserve(sessions_.size());
  for (const proxy::Session* s = sessions_.head(); s != nullptr; s = s->next) {
    views.push_back(s->view());
  }
  return views;
}

bool Worker::endSession(std::uint64_t id) {
  for (proxy::Session* s = sessions_.head(); s != nullptr; s = s->next) {
    if (s->id != id) continue;
    // Reset both sides, as a shutdown whose grace ran out does; logged and counted as
    // "ended-by-admin".
    s->abort(proxy::EndReason::kEndedByAdmin);
    stopIfDrained();
    return true;
  }
  return false;
}

}  // namespace l4lb::worker
