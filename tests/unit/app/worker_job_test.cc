#include "app/worker_job.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <thread>

#include "io/event_loop.h"

namespace l4lb::app {
namespace {

using std::chrono::milliseconds;

// Runs what was posted so far, then stops.
void runPosted(io::EventLoop& loop) {
  loop.post([&loop] { loop.stop(); });
  loop.run();
}

// Hazard 3 (issue 14): the upgrade's waiter gave up on a worker after its bound, and the job ran
// later anyway, with references to state that was gone, taking sessions apart for nobody.
TEST(WorkerJob, AJobWhoseWaiterGaveUpNeverRuns) {
  auto loop = io::EventLoop::create();
  ASSERT_TRUE(loop);
  // Stands for what a job reaches: alive here, so a job that runs anyway is seen, not a crash.
  auto captured = std::make_shared<int>(0);
  const std::optional<int> answer = runOnLoop<int>(
      *loop.value(),
      [captured] {
        ++*captured;
        return 1;
      },
      milliseconds(5));
  EXPECT_FALSE(answer);
  runPosted(*loop.value());  // the loop gets to the job only now
  EXPECT_EQ(*captured, 0) << "the job ran after its waiter gave up";
}

TEST(WorkerJob, AJobOnARunningLoopAnswers) {
  auto loop = io::EventLoop::create();
  ASSERT_TRUE(loop);
  io::EventLoop& l = *loop.value();
  std::thread thread([&l] { l.run(); });
  const std::optional<int> answer = runOnLoop<int>(
      l, [] { return 7; }, milliseconds(10'000));
  l.post([&l] { l.stop(); });
  thread.join();
  EXPECT_EQ(answer, 7);
}

// A loop whose thread starts each job at once, and returns from post() once the job has begun.
struct StartingLoop {
  std::atomic<bool>* started;
  std::thread thread;
  void post(std::function<void()> job) {
    thread = std::thread(std::move(job));
    while (!started->load()) std::this_thread::yield();
  }
};

TEST(WorkerJob, AJobAlreadyRunningIsWaitedForPastTheBound) {
  std::atomic<bool> started{false};
  StartingLoop loop{&started, {}};
  const std::optional<int> answer = runOnLoop<int>(
      loop,
      [&started] {
        started = true;
        std::this_thread::sleep_for(milliseconds(50));
        return 3;
      },
      milliseconds(1));
  loop.thread.join();
  EXPECT_EQ(answer, 3);
}

}  // namespace
}  // namespace l4lb::app
