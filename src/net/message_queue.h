#pragma once

#include <cstdint>
#include <string>

#include "base/fd.h"
#include "base/result.h"
#include "net/endpoint.h"

namespace l4lb::net {

// Size limits a POSIX message queue is created with. They apply only when l4lb creates the
// queue; a queue that already exists keeps its own (see messageQueueMessageSize).
struct MessageQueueLimits {
  std::uint32_t max_messages = 10;    // Linux's default fs.mqueue.msg_default
  std::uint32_t message_size = 8192;  // Linux's default fs.mqueue.msgsize_default
};

// "/name" for mq:///name: what mq_open(3) takes.
[[nodiscard]] std::string messageQueueName(const Endpoint& endpoint);

// Opens (creating if missing) the queue of an mq:// endpoint, non-blocking and close-on-exec,
// for reading (`for_reading`) or writing. On Linux an mqd_t is a file descriptor: epoll reports
// it readable or writable, and close(2) is what mq_close(3) does, so it is held in a base::Fd
// like any other descriptor.
[[nodiscard]] base::Result<base::Fd> openMessageQueue(const Endpoint& endpoint, bool for_reading,
                                                      const MessageQueueLimits& limits);

// The queue's own message size (mq_msgsize), which may differ from the configured one when the
// queue already existed.
[[nodiscard]] base::Result<long> messageQueueMessageSize(int fd);

}  // namespace l4lb::net
