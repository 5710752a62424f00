// The engine's event queue: a flat binary min-heap of small POD events ordered by (time_ns,
// sequence number). Every model keeps its pending completions in one; the sequence number is
// assigned at push, so equal times pop in push order and a run is deterministic. No allocation per
// event once the heap has grown to its working size, no callbacks: an event carries a 64-bit token
// that its model interprets.
#pragma once

#include <cstdint>
#include <limits>
#include <vector>

namespace clustersim::engine {

using TimeNs = std::int64_t;
inline constexpr TimeNs kNever = std::numeric_limits<TimeNs>::max();

struct Event {
  TimeNs time_ns = 0;
  std::uint64_t sequence = 0;
  std::int64_t token = 0;
};

class EventQueue {
 public:
  bool empty() const { return heap_.empty(); }
  std::size_t size() const { return heap_.size(); }
  // Time of the earliest event, kNever when empty.
  TimeNs next_time_ns() const { return heap_.empty() ? kNever : heap_.front().time_ns; }
  const Event& top() const { return heap_.front(); }
  void reserve(std::size_t n) { heap_.reserve(n); }

  void push(TimeNs time_ns, std::int64_t token) {
    heap_.push_back(Event{time_ns, next_sequence_++, token});
    sift_up(heap_.size() - 1);
  }

  // Removes and returns the earliest event. Precondition: !empty().
  Event pop() {
    const Event out = heap_.front();
    const Event last = heap_.back();
    heap_.pop_back();
    if (!heap_.empty()) sift_down(last);
    return out;
  }

 private:
  static bool before(const Event& a, const Event& b) {
    return a.time_ns < b.time_ns || (a.time_ns == b.time_ns && a.sequence < b.sequence);
  }
  void sift_up(std::size_t i) {
    const Event e = heap_[i];
    while (i > 0) {
      const std::size_t parent = (i - 1) / 2;
      if (!before(e, heap_[parent])) break;
      heap_[i] = heap_[parent];
      i = parent;
    }
    heap_[i] = e;
  }
  // Places `e` (the former last element) starting from the root.
  void sift_down(const Event& e) {
    const std::size_t n = heap_.size();
    std::size_t i = 0;
    while (true) {
      std::size_t child = 2 * i + 1;
      if (child >= n) break;
      if (child + 1 < n && before(heap_[child + 1], heap_[child])) ++child;
      if (!before(heap_[child], e)) break;
      heap_[i] = heap_[child];
      i = child;
    }
    heap_[i] = e;
  }

  std::vector<Event> heap_;
  std::uint64_t next_sequence_ = 0;
};

}  // namespace clustersim::engine
