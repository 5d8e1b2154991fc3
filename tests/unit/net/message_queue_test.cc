#include "net/message_queue.h"

#include <gtest/gtest.h>
#include <mqueue.h>
#include <unistd.h>

#include <string>
#include <variant>

namespace l4lb::net {
namespace {

Endpoint queueEndpoint(const std::string& name) {
  auto parsed = parseEndpoint("mq:///" + name);
  return parsed.value();
}

TEST(MessageQueue, NameIsThePathOfTheUrl) {
  EXPECT_EQ(messageQueueName(queueEndpoint("jobs")), "/jobs");
}

TEST(MessageQueue, CreatesWithLimitsAndPassesAMessage) {
  std::string name = "l4lb-unit-" + std::to_string(::getpid());
  Endpoint endpoint = queueEndpoint(name);
  auto reader = openMessageQueue(endpoint, /*for_reading=*/true, MessageQueueLimits{4, 128});
  if (!reader && (reader.error().code == ENOSYS || reader.error().code == EACCES)) {
    GTEST_SKIP() << "no POSIX message queues here: " << reader.error().message();
  }
  ASSERT_TRUE(reader) << reader.error().message();
  auto writer = openMessageQueue(endpoint, /*for_reading=*/false, MessageQueueLimits{4, 128});
  ASSERT_TRUE(writer) << writer.error().message();
  auto size = messageQueueMessageSize(reader.value().get());
  ASSERT_TRUE(size);
  EXPECT_EQ(size.value(), 128);
  ASSERT_EQ(::mq_send(writer.value().get(), "hi", 2, 0), 0);
  char buf[128];
  EXPECT_EQ(::mq_receive(reader.value().get(), buf, sizeof(buf), nullptr), 2);
  // Non-blocking: an empty queue says EAGAIN instead of waiting.
  EXPECT_EQ(::mq_receive(reader.value().get(), buf, sizeof(buf), nullptr), -1);
  EXPECT_EQ(errno, EAGAIN);
  ::mq_unlink(messageQueueName(endpoint).c_str());
}

}  // namespace
}  // namespace l4lb::net
