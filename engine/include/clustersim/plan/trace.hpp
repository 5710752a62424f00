// The Trace schema ("clustersim.trace/1"), written alike by the simulator (source = simulated) and the
// executor (source = measured), so a prediction is checked op by op. Times are integer nanoseconds
// from the start of the recorded run. A trace records a subset of ranks (`ranks`): every rank for a
// measured run, one representative per rank class for a symmetric simulation.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "clustersim/plan/types.hpp"

namespace clustersim::plan {

inline constexpr const char* kTraceSchema = "clustersim.trace/1";

enum class TraceSource : std::uint8_t { simulated, measured };

// Description of one op of a recorded program, so the trace reads without the plan.
struct OpInfo {
  std::int32_t op = 0;
  std::string name;
  OpKind kind = OpKind::delay;
  std::string op_class;  // "gemm", "attention", "memory", "optimizer", "comm:<group>:<type>", "p2p", ...
  Phase phase = Phase::other;
  std::int16_t stream = 0;
  std::int16_t layer = -1;
  std::int32_t microbatch = -1;
  double flops = 0.0;
  std::int64_t bytes = 0;  // bytes moved (memory ops) or communicated (comm ops)
};

struct ProgramInfo {
  std::int32_t program = 0;
  std::string name;
  std::vector<std::string> streams;  // names, indexed by stream id
  std::vector<OpInfo> ops;           // indexed by op id
};

struct OpSpan {
  std::int32_t rank = 0;
  std::int32_t op = 0;
  std::int16_t stream = 0;
  std::int32_t step = 0;
  std::int64_t start_ns = 0, end_ns = 0;
};

struct MemorySample {
  std::int64_t t_ns = 0;
  std::int64_t bytes = 0;
};

struct RankMemory {
  std::int32_t rank = 0;
  std::int64_t peak_bytes = 0;
  std::int64_t peak_time_ns = 0;
  std::map<TensorRole, std::int64_t> at_peak;    // breakdown of peak_bytes by role
  std::map<TensorRole, std::int64_t> role_peak;  // each role's own maximum over the step
  std::int64_t persistent_bytes = 0;             // model states and other tensors alive all step
  std::int64_t capacity_bytes = 0;               // usable device memory
  bool fits = true;
  std::vector<MemorySample> timeline;  // total bytes after each change (may be down-sampled)
  std::int64_t measured_resident_bytes = 0;  // executor only: RSS / cudaMemGetInfo cross-check
};

struct CommSpan {
  std::int32_t rank = 0;
  GroupKind group = GroupKind::dp;
  std::int32_t group_id = 0;
  std::string type;  // collective type, or "send" / "recv"
  std::int64_t bytes = 0;
  std::int32_t step = 0;
  std::int64_t start_ns = 0, end_ns = 0;
};

// Communication per (group kind, type), per step, for one representative rank.
struct CommSummary {
  GroupKind group = GroupKind::dp;
  std::string type;
  std::int64_t count = 0;
  std::int64_t bytes = 0;
  double time_s = 0.0;     // sum of op durations on the rank's comm streams
  double exposed_s = 0.0;  // part of time_s during which the compute stream had nothing to do
};

struct Summary {
  double step_time_s = 0.0;
  double tokens_per_s = 0.0;   // 0 for non-token models
  double samples_per_s = 0.0;
  double model_flops_per_step = 0.0;
  double mfu = 0.0;            // model FLOPs / (step time * GPUs * dense peak of the compute dtype)
  double hfu = 0.0;            // with recomputation
  double compute_time_s = 0.0;  // busy time of the compute stream (critical rank)
  double comm_time_s = 0.0;
  double exposed_comm_s = 0.0;
  double bubble_fraction = 0.0;  // pipeline idle share of the step on the compute stream
  std::int64_t peak_memory_bytes = 0;  // max over ranks
  std::int64_t capacity_bytes = 0;
  bool fits = true;
  std::int32_t critical_rank = 0;  // the rank that finished last
  std::vector<CommSummary> comm;
  std::vector<double> losses;   // measured: mean loss per step
  double loss_scale = 0.0;      // measured, fp16 only: scale after the last step
  std::int64_t skipped_steps = 0;
  std::int64_t steps = 1;
  std::int64_t events = 0;      // simulated: events processed
  double wall_time_s = 0.0;     // how long the simulation or run itself took
};

struct Trace {
  std::string schema = kTraceSchema;
  TraceSource source = TraceSource::simulated;
  std::string scenario;
  std::string hardware;
  std::string backend;  // "sim:roofline/analytical", "cpu", "cuda", ...
  std::vector<std::int32_t> ranks;           // recorded ranks
  std::vector<std::int32_t> program_of_rank;  // for recorded ranks, same order as `ranks`
  std::vector<ProgramInfo> programs;
  std::vector<OpSpan> ops;
  std::vector<RankMemory> memory;
  std::vector<CommSpan> comm;
  Summary summary;
  nlohmann::json extra = nlohmann::json::object();  // backend-specific facts (versions, profile used)
};

struct Plan;
// The self-description of one program for a trace (names, kinds, classes, FLOPs, bytes).
ProgramInfo describe_program(const Plan& plan, std::int32_t program);

}  // namespace clustersim::plan
