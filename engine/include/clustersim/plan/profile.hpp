// The calibration profile ("clustersim.profile/1"): op times measured on one device by
// `clustersim calibrate` (CPU or CUDA executor) and interpolated by the engine's `calibrated` cost
// model. It lives in the plan library because both sides speak it: the executor writes it, the
// engine reads it. Times are nanoseconds per op (mean of repeated runs), sizes are bytes.
//
// Memory-bound ops are keyed by calibration_key(): "<kind>[:<name>][:<direction>]", e.g.
// "elementwise:gelu", "norm:layernorm:forward", "softmax_xent:forward", "optimizer:adamw", "cast",
// "embedding:forward"; the key "memory" is the catch-all for memory-bound ops with no own table.
// A reader looks an op up along calibration_key_chain(): the full key, then shorter prefixes, then
// "memory".
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "clustersim/plan/plan.hpp"
#include "clustersim/plan/types.hpp"

namespace clustersim::plan {

inline constexpr const char* kProfileSchema = "clustersim.profile/1";

// One GEMM shape: C(m x n) = A(m x k) * B(k x n) with `dtype` operands (batch folded into m).
struct GemmSample {
  DType dtype = DType::fp32;
  std::int64_t m = 0, n = 0, k = 0;
  double time_ns = 0.0;
};

// One attention call (see AttentionParams; seq is both seq_q and seq_kv).
struct AttentionSample {
  DType dtype = DType::bf16;
  std::int64_t batch = 0, heads = 0, kv_heads = 0, seq = 0, head_dim = 0;
  bool causal = true;
  bool flash = true;
  Direction direction = Direction::forward;
  double time_ns = 0.0;
};

// One size of a memory-bound op, or one message size of a point-to-point transfer.
struct ByteTimeSample {
  std::int64_t bytes = 0;
  double time_ns = 0.0;
};

// CalibrationProfile::overlap_comm_idle_delay: after `idle_ns` of no compute, `delay_ns` extra.
struct IdleDelaySample {
  double idle_ns = 0.0;
  double delay_ns = 0.0;
};

// Throws InputError at `path` unless the samples have idle_ns > 0, strictly increasing, and
// finite delay_ns >= 0.
void check_idle_delay(const std::vector<IdleDelaySample>& samples, const std::string& path);
// The extra ns after `idle_ns` of no compute (CalibrationProfile::overlap_comm_idle_delay); 0
// without samples.
double idle_delay_ns(const std::vector<IdleDelaySample>& samples, double idle_ns);

// Where the members of a measured collective sat: all on one node, or spread over nodes.
enum class Placement : std::uint8_t { intra, inter };

// One collective: `ranks` members, `bytes` as in CollectiveParams (full buffer size), elements of
// `dtype` (a bf16 reduction on a CPU widens every element, so its time does not follow the bytes).
// The time is the operation itself: the members start together (after a barrier) and each member's
// time to completion is averaged, the median over repetitions.
struct CollectiveSample {
  CollectiveType type = CollectiveType::all_reduce;
  std::int32_t ranks = 2;
  std::int64_t bytes = 0;
  double time_ns = 0.0;
  Placement placement = Placement::intra;
  DType dtype = DType::fp32;
  // How much longer it takes when a member arrived first and idled (ran no compute) for idle_ns
  // before the last one came (`clustersim calibrate` measures it for a target's collectives over
  // every rank; empty: not measured). check_idle_delay holds for it.
  std::vector<IdleDelaySample> idle_delay;
};

// One exact op of a scenario's plan, measured alone by a targeted calibration (`clustersim
// calibrate --for SCENARIO`): the op's tensors are cloned into a one-op plan and run through the
// executor's own dispatch and kernel. Keyed by op_signature(); `example` names one op it stands for.
// A quick measure of a machine's state: the median time of a back-to-back all-reduce of `bytes`
// fp32 over every rank (0 on one rank) and of a 256^3 fp32 GEMM on one core.
struct MachineProbe {
  std::int64_t bytes = 0;
  double all_reduce_ns = 0.0;
  double gemm_ns = 0.0;
};

struct OpSample {
  std::string signature;
  std::string example;
  double time_ns = 0.0;
};

// What a stream thread of the executor spends between ops, outside every op's span: the interpreter's
// bookkeeping and the allocation (and zeroing) of the op's tensors before it starts, and, when the
// op was released by an op of another stream, waking the thread that waited for it. The engine
// delays each op's start by these (they are zero on a profile without them).
// How a communication thread learns that its op completed (the CPU executor's MPI waits): it tests
// when it posts the op, then after each sleep. While its rank runs no compute kernel (the core is
// free) every sleep is first_ns; while it does, the sleeps double from first_ns up to cap_ns. Every
// sleep lasts overshoot_ns longer than asked (the timer's lateness, measured by the calibration).
// An op that waited for its peer is seen done at the first poll after its transfer ended.
// first_ns = cap_ns = 0: the waiting thread is woken at once (blocking calls, GPU streams); else
// 0 < first_ns <= cap_ns. overshoot_ns >= 0.
struct PollSchedule {
  double first_ns = 0.0;
  double cap_ns = 0.0;
  double overshoot_ns = 0.0;
};

// JSON paths of a PollSchedule's fields, for errors.
struct PollSchedulePaths {
  std::string first, cap, overshoot;
};

// Throws InputError at the offending field's path unless the schedule is as described above.
void check_poll_schedule(const PollSchedule& poll, const PollSchedulePaths& paths);

struct HostOverheads {
  double dispatch_ns = 0.0;            // an op following its stream predecessor, allocating nothing
  double wake_ns = 0.0;                // extra when the op's last dependency was on another stream
  std::vector<ByteTimeSample> alloc;   // allocating a tensor of `bytes` (interpolated log-log)
  PollSchedule poll;  // JSON: host.poll_first_ns, host.poll_cap_ns, host.poll_overshoot_ns
};

struct CalibrationProfile {
  std::string schema = kProfileSchema;
  std::string backend = "cpu";  // "cpu" or "cuda"
  std::string device;           // e.g. "AMD EPYC 7B13 (8 threads)" or "NVIDIA H100 80GB HBM3"
  std::string created;          // ISO 8601 time of the measurement
  std::vector<GemmSample> gemm;
  std::vector<AttentionSample> attention;
  std::map<std::string, std::vector<ByteTimeSample>> memory;  // key -> samples (any order)
  std::vector<CollectiveSample> collectives;
  std::vector<ByteTimeSample> p2p;
  std::vector<OpSample> ops;  // exact ops (targeted calibration); they take precedence over the tables
  HostOverheads host;
  // Per MPI rank of the calibration run: its compute time over the mean of all ranks' for the same
  // samples (the op times above are that mean). Cores of one host are not equally fast (interrupts,
  // a busy neighbour), and a synchronising step runs at its slowest rank's pace; the engine applies
  // these as per-rank compute factors to a plan with the same number of ranks. Empty: all equal.
  std::vector<double> rank_compute_factor;
  // The same, per calibration round (each round times every sample once, about as long as a step):
  // how much the ranks' relative speeds vary from one step-length period to the next. With these the
  // engine simulates one step per sample and reports the median (engine::simulate). Empty: none.
  std::vector<std::vector<double>> rank_compute_factor_samples;
  double overlap_compute_slowdown = 1.0;  // JSON: overlap.compute_slowdown (>= 1)
  // Mean extra time a send or recv takes to complete when its transfer ends while the rank's
  // compute stream is running a kernel: the rank's polling thread waits for the core (a CPU rank
  // whose streams share one core). JSON: overlap.comm_busy_delay_ns (>= 0); 0: none.
  double overlap_comm_busy_delay_ns = 0.0;
  // Extra time a transfer takes into a rank that has computed nothing for `idle_ns` before the send
  // was posted (a pipeline stage in its bubble, its receive waiting): an idle core is slow to pick
  // the transfer up. Measured at the targets' largest transfer: the receive's end after the send's
  // post, less half an idle poll period and less the transfer between ranks that idled
  // microseconds; at least 0. Sorted by idle_ns; the engine interpolates linearly from 0 extra at
  // 0 ns and holds the last value beyond. JSON: overlap.comm_idle_delay [{idle_ns, delay_ns}].
  std::vector<IdleDelaySample> overlap_comm_idle_delay;
  double kernel_overhead_ns = 0.0;        // fixed cost per op launch, included in every time above
  // The machine as the calibration left it (executor::probe_machine): a run records the same probe
  // before and after its steps, and `validate` compares them to tell a model error from a machine
  // that changed in between. JSON: probe {bytes, all_reduce_ns, gemm_ns}; absent: not measured.
  std::optional<MachineProbe> probe;
};

// Key of a memory-bound op in CalibrationProfile::memory; "" for other kinds (gemm, attention, conv,
// communication, io, delay).
std::string calibration_key(const Op& op);
// Lookup order for a memory-bound op: the key, its shorter prefixes, then "memory". Empty for
// other kinds.
std::vector<std::string> calibration_key_chain(const Op& op);
// Storage dtype of a memory-bound op: the dtype of its first floating-point input (else output)
// tensor; fp32 when it has none.
DType memory_op_dtype(const Plan& plan, const Op& op);
// The same chain for an op of `plan`, with dtype-specific keys first when the op's storage dtype is
// not fp32: "<key>@<dtype>" (e.g. "elementwise:gelu@bf16"), then the chain above, whose samples are
// fp32. A kernel that converts each element to fp32 (the CPU backend) takes as long per element in
// bf16 as in fp32, so its time does not follow the bytes across dtypes: the samples must be per dtype.
std::vector<std::string> calibration_key_chain(const Plan& plan, const Op& op);

// The exact-op key of a kernel op (gemm, attention, conv, elementwise, norm, softmax_xent, embedding,
// optimizer, cast): its kind, its parameters as the plan file writes them, and the dtype and shape
// of each input and output (an output that is also an input is marked in place). Two ops with equal
// signatures run the same kernel on the same amount of data. Empty for other kinds.
std::string op_signature(const Plan& plan, const Op& op);

nlohmann::json to_json(const CalibrationProfile& profile);
nlohmann::json probe_to_json(const MachineProbe& probe);
// Strict, like profile_from_json; `path` prefixes error paths.
MachineProbe probe_from_json(const nlohmann::json& j, const std::string& path);
// Strict reader: InputError with the JSON path on any missing, mistyped or out-of-range field
// (times and sizes must be > 0, ranks >= 1).
CalibrationProfile profile_from_json(const nlohmann::json& j);
// Reads a profile file; InputError naming the file and the path inside it.
CalibrationProfile read_profile_file(const std::string& path);

}  // namespace clustersim::plan
