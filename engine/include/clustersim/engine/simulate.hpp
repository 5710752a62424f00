// The simulator's entry point: runs a Plan on a Hardware with a cost model and a network tier and
// returns the predicted Trace. Deterministic: same inputs, same trace, bit for bit (set
// record_wall_time = false to zero the one measured field, summary.wall_time_s).
//
// Execution semantics (plan.hpp's contract, made precise):
//  * Each simulated rank runs its program. An op starts when the previous op on its stream and all
//    its deps have finished. Time is integer nanoseconds; simultaneous completions are handled
//    first (frees), then the ops they release start (allocs), so a peak never counts a tensor that
//    is freed at the same instant another one is allocated.
//  * Collectives: the i-th collective of a rank on its group of kind K matches the i-th of every
//    other member. The op starts (its span opens) when the rank reaches it; the transfer starts when
//    the last member arrives and all members finish together. Members must agree on type and bytes.
//  * send/recv, rendezvous: the k-th send a->b with tag g (program order) matches the k-th recv on b
//    from a with tag g; the transfer starts when both are posted and both ops complete when it
//    completes. A send therefore blocks its stream until the receiver posts (as NCCL does for every
//    message size); plans overlap by putting sends and recvs on their own streams.
//  * Compute kernels (gemm .. cast) take the cost model's time x the rank's straggler factor
//    (hardware.slowdowns). While a transfer of any communication op of the same rank is in flight,
//    running kernels progress at 1 / compute_comm_overlap_slowdown of their speed: a kernel's
//    remaining work is rescaled whenever the rank's first transfer starts or its last one ends, so
//    a kernel half-overlapped is slowed on that half only. io and delay ops are not affected.
//  * A send and its recv whose transfer ends while a kernel of either rank is running complete
//    comm_busy_delay_ns later (0 by default; a rendezvous needs both ends' polling threads): on a CPU rank whose stream threads share one core,
//    the thread that polls MPI gets the core only when the scheduler preempts the computing one.
//  * A plan that cannot finish (mismatched collectives or p2p) throws InternalError naming the
//    stuck ops.
//
// Rank modes: the symmetric reduction groups ranks by an equitable partition: same program, same
// straggler factor, same path costs for their groups and p2p peers, and, refined to a fixed point,
// the same multiset of classes in each of their groups and the same classes of their p2p peers. One
// representative (the lowest rank) of each class is simulated; a collective waits for the
// representatives of its members' classes and is timed on the representative's real group (the
// analytical tier already assumes every instance of a group kind communicates at once). This is exact
// for the analytical tier: expanded and symmetric give the same times for every simulated rank. The
// flow tier is told the classes (NetworkModel::set_rank_classes) and loads the network with the flows
// of every instance a representative's collective or transfer stands for, so instances contend as in
// the expanded run; on symmetric inputs the two modes agree to a nanosecond or so per phase.
//
// The trace (plan::Trace) filled by simulate():
//  * schema, source = simulated, scenario = plan.meta.scenario, hardware = hardware.name,
//    backend = "sim:<cost model>/<tier>/<collective algorithm>".
//  * ranks / program_of_rank: the simulated ranks (all ranks when expanded), ascending.
//  * programs: plan::describe_program of every program of the plan (indexed by program id).
//  * ops (when record_ops): one span per op of each simulated rank, ordered by rank then op id,
//    from the time the op starts (reaches the head of its stream with deps met) to its end.
//  * comm (when record_ops): one span per communication op from the start of its transfer (all
//    parties ready) to its end; the op span also covers the wait before.
//  * memory: one RankMemory per simulated rank (timeline when record_memory_timeline).
//  * summary, defined over the simulated ranks (each representative weighs as its class size):
//      step_time_s      latest op end; critical_rank: the rank that ends last (lowest on ties).
//      tokens_per_s     meta.tokens_per_step / step (0 for non-token models); samples_per_s likewise.
//      mfu, hfu         meta.model_flops_per_step (hardware_flops_per_step) /
//                       (step x world_size x peak of the compute dtype of meta.precision; fp8 -> fp8
//                       rate); 0 when the meta has no FLOPs.
//      compute_time_s   busy time of the critical rank's compute kernels: the length of the union of
//                       the spans of its gemm/attention/conv/elementwise/norm/softmax/embedding/
//                       optimizer/cast ops.
//      comm             per (group kind, type) on the critical rank ("send"/"recv" for p2p): count,
//                       bytes, time_s = sum of op span lengths, exposed_s = the part of each span
//                       outside the busy union.
//      comm_time_s      sum of comm[].time_s.
//      exposed_comm_s   length of (union of the rank's communication spans) minus the busy union.
//      bubble_fraction  mean over ranks of (step - busy_r - exposed_coll_r) / step, where
//                       exposed_coll_r is the length of (union of rank r's collective spans) minus its
//                       busy union: idle compute time not explained by exposed collectives (waiting on
//                       p2p, pipeline fill/drain, finishing early). A GPipe/1F1B pipeline with uniform
//                       stages and free p2p gives (p-1)/(m+p-1).
//      peak_memory_bytes  max over ranks; capacity_bytes = hardware.usable_memory_bytes();
//                       fits = every rank's peak <= capacity (capacity 0 = unknown: fits).
//      events           completions processed by the event loop; wall_time_s: the run's own time.
//  * extra: {"rank_mode", "represented_ranks" (class size per trace rank),
//    "compute_comm_overlap_slowdown" (the factor applied), "comm_transfer_s" (critical rank: transfer
//    time per "<group kind>:<type>", without waits), "network" (algorithms picked per
//    "<group kind>:<type>", measured-table fallbacks), "cost_model" (name, profile used, and
//    "fallbacks": [{what, ops, example}] for ops the model had no direct data for)}.
// Communication spans include the time spent waiting for peers (as a measured NCCL kernel's do), so
// comm time and exposed comm count rendezvous waits; bubble_fraction leaves collectives out.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "clustersim/engine/network.hpp"
#include "clustersim/plan/hardware.hpp"
#include "clustersim/plan/plan.hpp"
#include "clustersim/plan/profile.hpp"
#include "clustersim/plan/trace.hpp"

namespace clustersim::engine {

class CostModel;

using PollSchedule = plan::PollSchedule;

// The profile the "calibrated" cost model interpolates (written by `clustersim calibrate`).
using CalibrationProfile = plan::CalibrationProfile;

// How many ranks the engine simulates.
//  * expanded:  every rank of the plan.
//  * symmetric: one representative rank per class of equivalent ranks (see above); exact.
//  * automatic: symmetric unless hardware.slowdowns (a factor != 1) or hardware.degradations make
//               ranks differ, then expanded (the flow tier needs real concurrency then).
enum class RankMode : std::uint8_t { automatic, expanded, symmetric };

struct SimulationOptions {
  NetworkTier network = NetworkTier::analytical;
  std::string cost_model = "roofline";  // registry name: "roofline", "calibrated"
  // Required by "calibrated", whose runs also take collective and p2p times from it where it has
  // samples (see network.hpp).
  std::shared_ptr<const CalibrationProfile> profile;
  // registry name: "auto", "ring", "tree", "halving-doubling", "hierarchical", "direct"
  std::string collective_algorithm = "auto";
  RankMode rank_mode = RankMode::automatic;
  bool record_ops = true;  // per-op and per-comm spans in the trace (off for sweeps)
  bool record_memory_timeline = true;
  std::int32_t max_timeline_samples = 4096;  // down-sample memory timelines beyond this
  // Compute kernel slowdown factor (>= 1) while a communication transfer of the same rank is in
  // flight. Unset: the calibration profile's overlap.compute_slowdown with "calibrated", else 1.
  std::optional<double> compute_comm_overlap_slowdown;
  // Extra ns before a send or recv completes when its transfer ends while a kernel of the same
  // rank runs (>= 0). Unset: the calibration profile's overlap.comm_busy_delay_ns with
  // "calibrated", else 0.
  std::optional<double> comm_busy_delay_ns;
  // Extra time of a transfer whose receive was posted first, into a rank that had run no kernel for
  // a while before the send was posted (plan::CalibrationProfile::overlap_comm_idle_delay: sorted
  // {idle_ns > 0, delay_ns >= 0}, interpolated from 0 at 0). The receive is then seen at its first
  // poll after the transfer's end plus that delay. Unset: the calibration profile's
  // overlap.comm_idle_delay with "calibrated", else none.
  std::optional<std::vector<plan::IdleDelaySample>> comm_idle_delay;
  // How a waiting communication thread polls (plan::PollSchedule). A send or recv posted before
  // its peer's is seen done at a poll of its schedule after its transfer ends: every
  // first_ns + overshoot_ns while its rank runs no kernel; while it does, from the post or the
  // kernels' start (the later), at 0, then after sleeps of first_ns doubling to cap_ns, each
  // overshoot_ns longer. Where between two polls the transfer ends is set by the other rank's
  // timeline, which the plan does not fix to a few us, so the engine charges the expected wait:
  // half the interval between the polls around the transfer's end. A receive that waited on a
  // computing rank then moves the data on the shared core: comm_busy_delay_ns longer. Its peer of
  // a rendezvous, held with it, follows on its own schedule. Unset: the calibration profile's
  // host.poll_* with "calibrated", else none.
  std::optional<PollSchedule> comm_poll;
  bool record_wall_time = true;  // false: summary.wall_time_s = 0, for byte-identical traces
  // With rank noise (a calibrated profile's rank_compute_factor_samples): keep the communication
  // spans of every sample in trace.comm, the returned (median-step) sample's as step 0 and the
  // others' as steps 1.. in sample order, so that a comparison can take their median as it takes
  // a run's over its steps (reports::compare). The ops stay the returned sample's.
  bool keep_noise_comm = false;
  // Called now and then with the fraction of ops done (0..1); return false to cancel (throws Error).
  std::function<bool(double)> progress;
};

// Predicts one training step. Throws InputError when the plan needs something the hardware lacks
// (a dtype rate, more ranks than GPUs, bandwidth on a link it uses) or when a name is unknown (cost
// model, algorithm); InternalError on a malformed plan.
plan::Trace simulate(const plan::Plan& plan, const plan::Hardware& hardware, const SimulationOptions& options = {});

std::string_view rank_mode_name(RankMode mode);

}  // namespace clustersim::engine
