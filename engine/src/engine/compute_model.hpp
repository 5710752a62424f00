// The device model (private to the engine): runs device-local actions (kernels, host transfers,
// delays) of every simulated rank. A resource is one device (a simulated rank's slot); an action is
// one op with an amount of nominal work in nanoseconds. Streams are the workload's business: it only
// starts an op once its stream predecessor has finished, so the device runs its streams' ops
// concurrently without interference except one: while the slot has a communication transfer in
// flight, slowable actions (kernels) progress at 1 / overlap_slowdown of their speed, their
// remaining work rescaled at each change (SimGrid-style action with a remaining amount and a rate).
#pragma once

#include <cstdint>
#include <vector>

#include "clustersim/engine/model.hpp"

namespace clustersim::engine::detail {

class ComputeModel final : public Model {
 public:
  ComputeModel(std::int32_t slots, double overlap_slowdown);

  // Starts an action of `work_ns` nominal nanoseconds at `now_ns` on `slot`; completes with `token`.
  void start(TimeNs now_ns, std::int32_t slot, double work_ns, bool slowable, Token token);
  // A communication transfer of `slot` started / finished (counted; the first start and the last
  // finish change the speed of the slot's running kernels).
  void transfer_started(TimeNs now_ns, std::int32_t slot);
  void transfer_finished(TimeNs now_ns, std::int32_t slot);

  TimeNs next_event_ns() const override;
  void advance_to(TimeNs now_ns, std::vector<Token>& completed) override;

 private:
  struct Action {
    Token token = 0;
    double remaining_ns = 0.0;  // nominal work left at last_update_ns
    TimeNs last_update_ns = 0;
    double factor = 1.0;        // current slowdown
    std::uint32_t version = 0;  // bumps when rescheduled; older events are stale
    std::int32_t slot = 0;
    std::int32_t position = -1;  // index in running_[slot], -1 when not slowable
    bool live = false;
  };
  static std::int64_t event_token(std::int32_t action, std::uint32_t version) {
    return (static_cast<std::int64_t>(action) << 32) | version;
  }
  void rescale(TimeNs now_ns, std::int32_t action, double factor);
  void drop_stale() const;

  double slowdown_;
  bool rates_vary_;  // false: the fast path, events carry workload tokens directly
  std::vector<Action> actions_;
  std::vector<std::int32_t> free_actions_;
  std::vector<std::int32_t> transfers_;             // per slot: transfers in flight
  std::vector<std::vector<std::int32_t>> running_;  // per slot: running slowable actions
  mutable EventQueue queue_;
};

}  // namespace clustersim::engine::detail
