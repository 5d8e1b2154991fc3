#include "net/message_queue.h"

#include <fcntl.h>
#include <mqueue.h>

#include <string_view>

namespace l4lb::net {

std::string messageQueueName(const Endpoint& endpoint) {
  constexpr std::string_view kScheme = "mq://";
  std::string_view url = endpoint.url;
  if (url.substr(0, kScheme.size()) == kScheme) url.remove_prefix(kScheme.size());
  return std::string(url);
}

base::Result<base::Fd> openMessageQueue(const Endpoint& endpoint, bool for_reading,
                                        const MessageQueueLimits& limits) {
  std::string name = messageQueueName(endpoint);
  mq_attr attr{};
  attr.mq_maxmsg = limits.max_messages;
  attr.mq_msgsize = limits.message_size;
  int flags = (for_reading ? O_RDONLY : O_WRONLY) | O_CREAT | O_NONBLOCK | O_CLOEXEC;
  mqd_t mq = ::mq_open(name.c_str(), flags, 0600, &attr);
  if (mq == static_cast<mqd_t>(-1)) return base::lastError("mq_open");
  return base::Fd(mq);
}

base::Result<long> messageQueueMessageSize(int fd) {
  mq_attr attr{};
  if (::mq_getattr(fd, &attr) != 0) return base::lastError("mq_getattr");
  return static_cast<long>(attr.mq_msgsize);
}

}  // namespace l4lb::net
