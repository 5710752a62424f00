// The one interface between the event loop and the resource models (SimGrid's model / resource /
// action triad). A model owns resources (a device's streams, the network's links) and the actions
// running on them (a kernel, a transfer); the loop only asks every model for the time of its next
// completion and tells it to advance to that time, collecting the tokens of the actions that
// finished. The loop never knows what a GPU or a link is; the workload layer (the ranks' programs)
// starts actions and interprets the tokens.
#pragma once

#include <cstdint>
#include <vector>

#include "clustersim/engine/event_queue.hpp"

namespace clustersim::engine {

// Opaque to models: the workload layer encodes what finished (an op, a collective, a transfer).
using Token = std::int64_t;

class Model {
 public:
  virtual ~Model() = default;
  // Earliest time at which one of this model's actions completes; kNever when idle.
  virtual TimeNs next_event_ns() const = 0;
  // Completes every action due at `now_ns` (never later than next_event_ns()), appending their
  // tokens in (time, sequence) order.
  virtual void advance_to(TimeNs now_ns, std::vector<Token>& completed) = 0;
};

}  // namespace clustersim::engine
