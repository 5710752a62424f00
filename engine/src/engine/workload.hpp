// The workload layer (private to the engine): interprets the simulated ranks' programs. It knows
// streams, deps, collective matching and p2p rendezvous; it starts actions on the device model and
// the network model and turns their completion tokens back into finished ops. Op costs, successor
// lists and memory effects are tabulated once per program (OpTable); per-op-instance state lives in
// flat arrays indexed by slot base + op id, so the hot path allocates nothing.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "clustersim/engine/cost_model.hpp"
#include "clustersim/engine/memory_tracker.hpp"
#include "clustersim/engine/network.hpp"
#include "clustersim/plan/plan.hpp"
#include "compute_model.hpp"
#include "rank_classes.hpp"

namespace clustersim::engine::detail {

enum class OpTag : std::uint8_t { kernel, local, collective, send, recv };

struct TensorUse {
  std::int64_t bytes = 0;
  TensorRole role = TensorRole::activation;
};

struct CommInfo {
  CollectiveType type = CollectiveType::all_reduce;
  GroupKind kind = GroupKind::world;
  std::int32_t peer_offset = 0;
  std::int32_t tag = 0;  // p2p only
  std::int64_t bytes = 0;
  DType dtype = DType::fp32;  // collectives only
  std::int32_t idle_delay = -1;  // collectives: index into OpTable::idle_delays, -1 for none
};

// Everything about one program the event loop needs, computed once.
struct OpTable {
  std::int32_t program = 0;
  std::int32_t streams = 0;  // the program's stream count
  std::vector<OpTag> tag;
  std::vector<plan::StreamId> stream;  // per op
  std::vector<std::int64_t> cost_ns;            // local ops; 0 for communication
  // Host time before an op starts on its stream (CostModel::dispatch_ns), and the extra when it was
  // released by an op of another stream (CostModel::wake_ns); zero for most cost models.
  std::vector<std::int64_t> dispatch_ns;
  std::int64_t wake_ns = 0;
  std::vector<std::int32_t> succ_offset, succ;  // CSR: ops released when an op finishes
  std::vector<std::int32_t> initial_pending;    // stream predecessor + deps
  std::vector<std::int32_t> alloc_offset, free_offset;
  std::vector<TensorUse> allocs, frees;
  std::vector<TensorUse> persistent;
  std::int64_t persistent_bytes = 0;
  std::vector<CommInfo> comm;             // per op, meaningful for communication ops
  std::vector<std::int32_t> p2p_ordinal;  // per op: index among the program's send/recv ops, -1 otherwise
  std::int32_t p2p_count = 0;
  std::vector<std::int32_t> comm_ordinal;  // per op: index among the program's communication ops, -1 otherwise
  std::int32_t comm_count = 0;
  // CostModel::collective_idle_delay of the program's collectives (CommInfo::idle_delay).
  std::vector<std::vector<plan::IdleDelaySample>> idle_delays;
};

// Fallbacks a cost model reported while tabulating: description -> (ops, an example op name).
using FallbackLog = std::map<std::string, std::pair<std::int64_t, std::string>>;

OpTable build_op_table(const plan::Plan& plan, std::int32_t program, const CostModel& cost, FallbackLog& fallbacks);

class Workload {
 public:
  Workload(const plan::Plan& plan, const plan::RankGroups& groups, const RankClasses& classes,
           const std::vector<const OpTable*>& table_of_program, const std::vector<double>& straggler,
           std::int32_t timeline_samples, ComputeModel& compute, NetworkModel& network, double busy_delay_ns = 0.0,
           PollSchedule poll = {}, std::vector<plan::IdleDelaySample> idle_delay = {});

  // Allocates persistent tensors at t = 0 and starts every op that is ready.
  void start();
  // Finishes what the models completed at `now_ns`, then starts the ops that became ready.
  void handle(TimeNs now_ns, const std::vector<Token>& completed);

  std::int64_t total_ops() const { return static_cast<std::int64_t>(pending_.size()); }
  std::int64_t finished_ops() const { return finished_; }
  // Why the run could not finish: the first few stuck ops and what they wait for.
  std::string describe_stuck(std::size_t max_items) const;

  std::int32_t slots() const { return static_cast<std::int32_t>(slots_.size()); }
  plan::Rank rank_of_slot(std::int32_t slot) const { return slots_[static_cast<std::size_t>(slot)].rank; }
  std::int32_t program_of_slot(std::int32_t slot) const { return slots_[static_cast<std::size_t>(slot)].program; }
  const OpTable& table_of_slot(std::int32_t slot) const { return *slots_[static_cast<std::size_t>(slot)].table; }
  std::int32_t group_of_slot(std::int32_t slot, GroupKind kind) const;
  // Op spans of a slot, indexed by op id.
  const std::int64_t* start_ns(std::int32_t slot) const {
    return start_.data() + slots_[static_cast<std::size_t>(slot)].base;
  }
  const std::int64_t* end_ns(std::int32_t slot) const {
    return end_.data() + slots_[static_cast<std::size_t>(slot)].base;
  }
  // When each communication op's transfer started (all parties ready), indexed by comm ordinal.
  const std::int64_t* transfer_start_ns(std::int32_t slot) const {
    return transfer_start_.data() + slots_[static_cast<std::size_t>(slot)].comm_base;
  }
  const MemoryTracker& memory(std::int32_t slot) const { return slots_[static_cast<std::size_t>(slot)].memory; }

 private:
  struct Slot {
    plan::Rank rank = 0;
    std::int32_t program = 0;
    const OpTable* table = nullptr;
    std::int64_t base = 0;       // first op instance
    std::int64_t p2p_base = 0;   // first p2p instance
    std::int64_t comm_base = 0;  // first communication op instance
    double straggler = 1.0;
    std::array<std::int32_t, kGroupKindCount> vgroup{};       // rendezvous per group kind, -1 none
    std::array<std::int32_t, kGroupKindCount> collectives{};  // collectives issued per group kind
    std::int32_t kernels_running = 0;  // kernels dispatched or running
    // When the slot's polling threads last saw it start computing: kernels_running became > 0
    // after an idle gap at least as long as the poll period then in effect (busy_start).
    TimeNs busy_since = 0;
    TimeNs idle_since = 0;  // when kernels_running last became 0
    std::vector<std::int32_t> held{};  // p2p ops whose completion waits for the core
    MemoryTracker memory;
  };
  // A rendezvous point: the representatives of one group's members (all of them when expanded).
  struct VirtualGroup {
    std::int32_t group_id = 0;  // the real group the network times
    GroupKind kind = GroupKind::world;
    std::int32_t needed = 0, arrived = 0;
    std::int64_t completed = 0;  // collectives finished so far
    std::int64_t arrivals_offset = 0;
    CollectiveType type = CollectiveType::all_reduce;
    std::int64_t bytes = 0;
    DType dtype = DType::fp32;
    std::int64_t idle_extra_ns = 0;  // the open collective's extra for its members' idling
  };
  struct Channel {  // p2p from one slot to another with one tag
    std::int32_t from = 0, to = 0, tag = 0;
    std::int64_t offset = 0, messages = 0;
  };

  static Token op_token(std::int32_t slot, std::int32_t op) {
    return (static_cast<Token>(slot) << 32) | static_cast<Token>(op);
  }
  void finish(TimeNs now_ns, std::int32_t slot, std::int32_t op);
  // An op became ready: starts it, or first waits for its host dispatch time (OpTable::dispatch_ns).
  void begin(TimeNs now_ns, std::int32_t slot, std::int32_t op);
  void start_op(TimeNs now_ns, std::int32_t slot, std::int32_t op);
  void arrive(TimeNs now_ns, std::int32_t slot, std::int32_t op);
  void post(TimeNs now_ns, std::int32_t slot, std::int32_t op);
  void mark_transfer(TimeNs now_ns, std::int32_t slot, std::int32_t op);
  // A point-to-point op's transfer ended: it finishes now, or, while a kernel of its slot is being
  // dispatched or running, it is held: it finishes busy_delay_ns_ later (a non-slowable action
  // whose token finishes it) or as soon as the slot stops computing (release_held), whichever
  // comes first, as a polling thread gets the core at the scheduler's preemption or when the
  // computing thread blocks.
  // Collectives finish at once: the delay is measured on transfers, and the CPU validation runs
  // show none for a collective that ends during a kernel (docs/VALIDATION.md).
  // Returns whether the op is held.
  // An op that waited for its peer (posted first) is first held until its thread's poll after the
  // transfer's end (poll_late_ns, plus the busy-core delay for a receive on a computing rank):
  // `poll_late` ns, a non-slowable action.
  bool transfer_done(TimeNs now_ns, std::int32_t slot, std::int32_t op, std::int64_t poll_late = 0);
  // Expected ns from `now_ns` to the next poll of an op of `slot` posted at `posted_ns`
  // (SimulationOptions::comm_poll): half the interval between the polls around `now_ns`; 0
  // without a poll schedule.
  std::int64_t poll_late_ns(std::int32_t slot, TimeNs now_ns, TimeNs posted_ns) const;
  // The interval (a, b] holding `t` of the polls of a thread backing off since `origin`: a poll at
  // `origin`, then after sleeps doubling from poll_.first_ns to poll_.cap_ns, each overshoot_ns
  // longer.
  std::pair<double, double> backed_off_interval(double origin, double t) const;
  // A kernel of `slot` starts with none running. A polling thread resets its back-off only when a
  // poll finds the rank idle (the executor's compute_idle()), and the host gaps between a
  // stream's kernels last microseconds: the back-off restarts (busy_since = now) only after a gap
  // of at least the poll period in effect when it began; otherwise it runs on from busy_since.
  void busy_start(TimeNs now_ns, Slot& slot) const;
  // Extra ns of a transfer into `slot` whose send was posted at `send_post_ns` (idle_delay_): by
  // how long the slot had run no kernel then; 0 when it was computing.
  std::int64_t idle_delay_ns(std::int32_t slot, TimeNs send_post_ns) const;
  // A held op finishes; a recv's sender then completes (or is held in turn: transfer_done).
  void complete_held(TimeNs now_ns, std::int32_t slot, std::int32_t op);
  void release_held(TimeNs now_ns);
  std::string op_name(std::int32_t slot, std::int32_t op) const;

  const plan::Plan& plan_;
  ComputeModel& compute_;
  NetworkModel& network_;
  std::vector<Slot> slots_;
  std::vector<std::int32_t> pending_;
  std::vector<std::int64_t> start_, end_;
  std::vector<std::int64_t> transfer_start_;  // per communication op instance
  std::vector<std::uint8_t> woken_;           // per op instance: released by an op of another stream
  std::int64_t finished_ = 0;
  std::vector<Token> ready_;  // op tokens released in the current batch

  std::vector<VirtualGroup> vgroups_;
  std::vector<std::vector<std::int32_t>> vgroup_members_;  // slots, for diagnostics
  std::vector<Token> arrivals_;

  std::vector<Channel> channels_;
  std::vector<std::int32_t> p2p_channel_;           // per p2p instance
  std::vector<std::int64_t> p2p_message_;           // per p2p instance: k
  std::vector<plan::Rank> p2p_peer_;                // per p2p instance: the real peer rank
  std::vector<Token> channel_send_, channel_recv_;  // per message: the posted op, -1 until posted
  double busy_delay_ns_ = 0.0;
  PollSchedule poll_;
  std::vector<plan::IdleDelaySample> idle_delay_;
  static constexpr std::uint8_t kNotHeld = 0, kHeld = 1, kReleased = 2, kPollHeld = 3;
  std::vector<std::uint8_t> held_;          // per op instance, sized only with a busy delay or polls
  std::vector<std::int32_t> held_slots_;    // slots with held ops
  std::vector<Token> partner_;              // per held recv: the send that completes after it, -1
};

}  // namespace clustersim::engine::detail
