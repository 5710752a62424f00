// Tests of engine::EventQueue: events pop by (time, push order), whatever the push order.
#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <tuple>
#include <vector>

#include "clustersim/engine/event_queue.hpp"

namespace clustersim::engine {
namespace {

TEST(EventQueue, EmptyQueueHasNoNextTime) {
  EventQueue q;
  EXPECT_TRUE(q.empty());
  EXPECT_EQ(q.next_time_ns(), kNever);
}

TEST(EventQueue, EqualTimesPopInPushOrder) {
  EventQueue q;
  q.push(10, 1);
  q.push(5, 2);
  q.push(10, 3);
  q.push(5, 4);
  q.push(0, 5);
  std::vector<std::int64_t> tokens;
  while (!q.empty()) tokens.push_back(q.pop().token);
  EXPECT_EQ(tokens, (std::vector<std::int64_t>{5, 2, 4, 1, 3}));
}

TEST(EventQueue, MatchesAStableSortOnRandomTimes) {
  std::mt19937_64 rng(7);
  std::uniform_int_distribution<std::int64_t> time(0, 50);
  EventQueue q;
  std::vector<std::tuple<std::int64_t, std::int64_t>> reference;  // (time, push index)
  std::int64_t pushed = 0;
  std::vector<std::tuple<std::int64_t, std::int64_t>> popped;
  for (int round = 0; round < 2000; ++round) {
    // Interleave pushes and pops, never pushing earlier than the last pop (as a simulator does).
    const std::int64_t floor = popped.empty() ? 0 : std::get<0>(popped.back());
    for (int i = 0; i < 3; ++i) {
      const std::int64_t t = floor + time(rng);
      q.push(t, pushed);
      reference.emplace_back(t, pushed++);
    }
    const Event e = q.pop();
    popped.emplace_back(e.time_ns, e.token);
  }
  while (!q.empty()) {
    const Event e = q.pop();
    popped.emplace_back(e.time_ns, e.token);
  }
  std::sort(reference.begin(), reference.end());
  // Every pop returned the minimum (time, push index) among the events present at that moment, so
  // the popped sequence is non-decreasing in time and, at equal times, in push order.
  for (std::size_t i = 1; i < popped.size(); ++i) {
    ASSERT_LE(std::get<0>(popped[i - 1]), std::get<0>(popped[i]));
    if (std::get<0>(popped[i - 1]) == std::get<0>(popped[i])) {
      ASSERT_LT(std::get<1>(popped[i - 1]), std::get<1>(popped[i]));
    }
  }
  std::sort(popped.begin(), popped.end());
  EXPECT_EQ(popped, reference);
}

}  // namespace
}  // namespace clustersim::engine
