// Metrics derived from a Trace that the trace's Summary does not carry, shared by every renderer
// and by the comparison: per-rank busy, idle and communication time per step, step windows, the
// communication table per (group, type), the rank with the highest memory peak.
//
// Conventions (the same for predicted and measured traces, so both are measured with one ruler):
//  * The compute stream of a program is the stream named "compute" (else the first whose name
//    starts with "compute", else stream 0). Communication ops are those whose class starts with
//    "comm:" or "p2p:".
//  * A step's window is [earliest start, latest end] over the op spans of that step on every
//    recorded rank. A rank's idle time in a step is the window length minus the union of its
//    compute-stream op intervals (pipeline bubbles, waits on communication, launch gaps).
//  * Exposed communication is the part of a communication op's interval during which the rank's
//    compute stream was not busy.
//  * Per-step values are sums over a step divided by the number of steps considered.
// Traces whose op spans name a rank that is not recorded, or an op id outside its program, are
// malformed: functions here throw InputError naming the offending span.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "clustersim/plan/trace.hpp"

namespace clustersim::reports {

struct Interval {
  std::int64_t start_ns = 0;
  std::int64_t end_ns = 0;
};

// Total length of the union of `intervals` (sorted in place).
std::int64_t union_length(std::vector<Interval>& intervals);

// The compute stream of a program (see the conventions above).
std::int16_t compute_stream(const plan::ProgramInfo& program);

// True for "comm:<group>:<type>" and "p2p:<group>" classes.
bool is_comm_class(std::string_view op_class);
// The group kind named by a communication class, nullopt for other classes or unknown kinds.
std::optional<GroupKind> comm_group_of_class(std::string_view op_class);

// The program a recorded rank runs; InputError when `rank` is not recorded or its program is absent.
const plan::ProgramInfo& program_of_rank(const plan::Trace& trace, std::int32_t rank);

// Distinct OpSpan::step values, ascending.
std::vector<std::int32_t> trace_steps(const plan::Trace& trace);

struct StepWindow {
  std::int32_t step = 0;
  std::int64_t start_ns = 0;
  std::int64_t end_ns = 0;
  double length_s() const { return static_cast<double>(end_ns - start_ns) * 1e-9; }
};
// One window per step present in the op spans, ascending by step.
std::vector<StepWindow> step_windows(const plan::Trace& trace);

// What one recorded rank did, per step, averaged over the steps considered.
struct RankActivity {
  std::int32_t rank = 0;
  std::int32_t program = 0;
  std::string program_name;
  std::int64_t steps = 0;                           // steps averaged over
  std::int64_t op_spans = 0;                        // op spans of this rank in those steps
  double step_window_s = 0.0;                       // mean step window (all recorded ranks)
  double compute_busy_s = 0.0;                      // union of compute-stream op intervals
  double idle_s = 0.0;                              // step window - compute busy
  double comm_time_s = 0.0;                         // sum of communication op durations
  double exposed_comm_s = 0.0;                      // communication time with the compute stream idle
  std::map<std::string, double> class_time_s;       // op class -> sum of op durations
  std::map<std::string, double> comm_group_time_s;  // group kind name -> sum of communication op durations
};

// Activity of every recorded rank (in Trace::ranks order) over `steps` (steps absent from the trace
// are ignored); all steps present in the trace when `steps` is empty. A rank without op spans in a
// step is idle for that step's whole window. Compute-busy time counts the non-communication ops of
// the compute stream.
std::vector<RankActivity> rank_activity(const plan::Trace& trace, const std::vector<std::int32_t>& steps = {});

// Communication per (group kind, type) per step on one rank: Summary::comm when the trace carries
// it, else derived from the op spans of the critical rank (the first recorded rank when the
// critical rank is not recorded). Type is the collective type, or "send"/"recv" for p2p.
std::vector<plan::CommSummary> comm_by_group_type(const plan::Trace& trace);

// The memory record with the highest peak (the first on ties), nullptr when there is none.
const plan::RankMemory* peak_memory_rank(const plan::Trace& trace);

// The roles every memory breakdown lists, in display order, even when zero: weights, master
// weights, grads, optimizer states, activations, activation grads, workspace, comm buffers.
// Other roles (input, teacher weights, client updates) are listed only when non-zero.
const std::vector<TensorRole>& main_memory_roles();
// A role's display name: "weights", "master weights", "optimizer states", ...
std::string role_label(TensorRole role);

}  // namespace clustersim::reports
