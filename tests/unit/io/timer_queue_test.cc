#include "io/timer_queue.h"

#include <gtest/gtest.h>

#include <random>
#include <vector>

namespace l4lb::io {
namespace {

struct RecordingTimer : Timer {
  std::vector<int>* fired = nullptr;
  int id = 0;
  void onTimer() override { fired->push_back(id); }
};

TEST(TimerQueue, FiresInDeadlineOrderAndOnlyWhenDue) {
  std::vector<int> fired;
  std::vector<RecordingTimer> timers(5);
  TimerQueue queue;
  const int deadlines[] = {50, 10, 40, 20, 30};
  for (int i = 0; i < 5; ++i) {
    timers[i].fired = &fired;
    timers[i].id = i;
    queue.schedule(&timers[i], deadlines[i]);
  }
  EXPECT_EQ(queue.millisUntilNext(0), 10);
  queue.runDue(25);
  EXPECT_EQ(fired, (std::vector<int>{1, 3}));
  EXPECT_FALSE(timers[1].scheduled());
  queue.runDue(100);
  EXPECT_EQ(fired, (std::vector<int>{1, 3, 4, 2, 0}));
  EXPECT_EQ(queue.millisUntilNext(100), -1);
}

TEST(TimerQueue, CancelAndRescheduleKeepHeapConsistent) {
  std::vector<int> fired;
  std::vector<RecordingTimer> timers(200);
  TimerQueue queue;
  std::mt19937 rng(7);
  for (int i = 0; i < 200; ++i) {
    timers[i].fired = &fired;
    timers[i].id = i;
    queue.schedule(&timers[i], static_cast<std::int64_t>(rng() % 1000));
  }
  for (int i = 0; i < 200; i += 3) queue.cancel(&timers[i]);
  for (int i = 1; i < 200; i += 3)
    queue.schedule(&timers[i], static_cast<std::int64_t>(rng() % 1000));
  queue.runDue(2000);
  EXPECT_EQ(fired.size(), 200u - 67u);
  for (int id : fired) EXPECT_NE(id % 3, 0);
  // Deadlines of what fired are non-decreasing.
  for (size_t i = 1; i < fired.size(); ++i) {
    EXPECT_LE(timers[fired[i - 1]].deadline(), timers[fired[i]].deadline());
  }
  EXPECT_EQ(queue.size(), 0u);
}

TEST(TimerQueue, TimerMayRescheduleItselfWhileFiring) {
  struct Repeating : Timer {
    TimerQueue* queue = nullptr;
    int count = 0;
    void onTimer() override {
      if (++count < 3) queue->schedule(this, deadline() + 10);
    }
  } timer;
  TimerQueue queue;
  timer.queue = &queue;
  queue.schedule(&timer, 10);
  queue.runDue(15);
  EXPECT_EQ(timer.count, 1);
  EXPECT_TRUE(timer.scheduled());
  queue.runDue(100);
  EXPECT_EQ(timer.count, 3);
  EXPECT_FALSE(timer.scheduled());
}

}  // namespace
}  // namespace l4lb::io
