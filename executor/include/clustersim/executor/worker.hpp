// The plan interpreter: runs one rank's program of a Plan for real. A Worker keeps the rank's
// program, allocates its tensors (TensorAllocator, same rules as the plan's memory model),
// initialises them from Tensor::init, runs the ops in stream order honouring deps (one thread per
// stream, or sequentially), dispatches every op to its CPU kernel through a registry (an unknown
// elementwise name is an error listing the known ones), talks to other ranks through one
// Communicator per group, feeds io ops from a DataSource, applies dynamic loss scaling, and records
// per-op spans, communication and memory for the measured Trace.
//
// Storage dtypes: kernels compute in fp32; float tensors stored as bf16, fp16, fp8_e4m3 or fp8_e5m2
// are converted at the op boundary (read: to fp32; written: rounded back), so every op accepts any
// float storage dtype in its float slots, except these which must be fp32: attention lse, norm
// mean/rstd, softmax_xent losses, the xent_parallel max/stats/losses, check_finite's flag,
// grad_norm_sq's accumulator, clip_by_norm's norm_sq and the optimizer's found_inf flag. Integer
// slots: tokens, targets and labels int32; dropout masks uint8; maxpool argmax int32. Collectives
// reduce fp32, bf16, fp16, int32 and int64 and move any dtype. A wrong dtype is an InputError naming
// the rank, op, slot and what is allowed.
//
// Elementwise conventions the plan leaves open (documented here, mirrored by every backend):
//   * grad_norm_sq accumulates: acc += w * sum of squares with w = scalar (0 means 1), so replicated
//     gradients can be weighted to count once after the reduction; the plan zeroes acc first.
//     check_finite overwrites its flag.
//   * a program is one step: tensors its ops allocate and never free are released at the end of the
//     step (the first time reported through RunOptions::log), so every step starts from the
//     persistent tensors alone.
//   * copy [x] -> [y]: y = x (converted between float dtypes); a name beyond plan.hpp's list that the
//     vision builder emits.
//   * clip_by_norm compares sqrt(norm_sq) / loss_scale with `scalar` under dynamic loss scaling.
//   * rope: rotate-half pairing (cpu/activation.hpp), theta = scalar (0 means 10000).
//   * position_add(_backward): position offset = scalar + (seq_shards > 1 ? tp index * T_local : 0).
//   * xent_parallel_backward's scalar and softmax_xent backward's grad_scale are multiplied by the
//     loss scale; the optimizer's grad_scale by its inverse.
//   * dropout keys (rng.hpp): derive_key(seed, step, dp index, identity) with identity = (op kind,
//     layer, microbatch, stage, chunk, ordinal among such ops of the same direction); a recompute
//     or backward op finds the same key as its forward op. Attention masks index heads globally
//     (tp index * heads + h), so tensor parallelism draws the slice of the unsharded mask.
//   * io ops fill outputs by IoParams::content ("tokens", "targets", "features", "labels",
//     "images", comma-separated per output, or one for all); "" copies inputs[i] to outputs[i].
//     Sample s of micro-batch m, data-parallel index d, step k is global sample
//     ((k * dp + d) * num_microbatches + m) * B + s.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "clustersim/executor/allocator.hpp"
#include "clustersim/executor/communicator.hpp"
#include "clustersim/executor/data.hpp"
#include "clustersim/executor/record.hpp"
#include "clustersim/plan/plan.hpp"
#include "clustersim/plan/trace.hpp"

namespace clustersim::executor {

enum class StreamThreading : std::uint8_t {
  // One worker thread per stream; deps wait on condition variables. The Worker first checks the
  // program statically for cross-stream hazards (reading, overwriting or freeing storage another
  // stream uses without a dependency path) and refuses a racy plan with InternalError naming the ops.
  thread_per_stream,
  sequential,  // the calling thread runs the ops in program order (for debugging)
};

struct StepReport {
  std::int32_t rank = 0, step = 0;
  bool warmup = false;
  double loss = 0.0;  // mean over all ranks' loss rows (NaN when the plan has no loss op)
  bool skipped = false;
  double loss_scale = 1.0;  // scale in effect during the step
  std::int64_t duration_ns = 0;
};

struct RunOptions {
  std::int32_t steps = 5;                  // total, warm-up included
  std::int32_t warmup_steps = 1;           // excluded from the timing summary
  std::optional<std::int64_t> seed;        // overrides plan.meta.seed (initialisation, data, dropout)
  std::shared_ptr<const DataSource> data;  // null: synthetic corpus from the seed
  StreamThreading threading = StreamThreading::thread_per_stream;
  int blas_threads = 1;               // OpenBLAS threads of this process
  std::string run_dir;                // per-rank records survive a crash here; "" = none
  bool record_fatal_signals = false;  // append {"type":"signal"} to the rank file on SIGTERM/SEGV/ABRT/...
  double peak_flops_per_rank = 0.0;   // for MFU
  std::int64_t capacity_bytes = 0;    // 0: the host's MemTotal
  std::string scenario, hardware;     // copied into the trace
  std::int32_t timeline_max_samples = 2000;
  // probe_machine before the first step and after the last: trace.extra.machine_probe {before,
  // after} (CPU runs; `validate` compares them with the calibration's).
  bool machine_probe = false;
  std::function<void(const StepReport&)> on_step;  // after every step, on every rank
  std::function<void(const std::string&)> log;     // diagnostics
};

class Worker {
 public:
  // Validates the plan, creates the communicators (collective over all ranks), allocates and
  // initialises the persistent tensors. Throws InputError / InternalError on a bad plan; under MPI
  // the caller then ends every rank (MpiSession::abort), as the others wait in collective setup.
  // `plan` and `comms` must outlive the Worker.
  Worker(const plan::Plan& plan, CommunicatorFactory& comms, RunOptions options);
  ~Worker();
  Worker(const Worker&) = delete;
  Worker& operator=(const Worker&) = delete;

  // Runs one step: every op of the rank's program once. Throws on the first failing op (the message
  // names the rank, step and op); the caller then ends the run (MpiSession::abort under MPI).
  StepReport run_step();

  std::int32_t rank() const;
  std::int32_t steps_run() const;
  double loss_scale() const;
  const TensorAllocator& allocator() const;
  // Contents of a live tensor (or view) as fp32 values (integer dtypes converted); InternalError when
  // its storage is not allocated.
  std::vector<float> read_tensor(plan::TensorId id) const;
  // Overwrites a live tensor (values rounded to its dtype; integer dtypes truncate).
  void write_tensor(plan::TensorId id, const std::vector<float>& values);
  // Everything measured so far.
  RankRecord record() const;
  // The record of the last step run (run_step must have run at least once).
  const StepRecord& last_step() const;
  // Marks the record finished, adds the resident-memory figures (VmRSS, VmHWM) and writes the run
  // directory's end record. Call once, after the last step.
  RankRecord finish();

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;
};

struct RunResult {
  RankRecord record;                 // this rank's measurements
  std::vector<double> losses;        // mean loss per step (identical on every rank)
  std::optional<plan::Trace> trace;  // world rank 0: the gathered measured trace
};

// Runs options.steps steps on this rank, then gathers every rank's record at world rank 0 and
// builds the measured trace there. On an exception the rank's run-dir file gets an error record and
// the exception propagates.
RunResult run_rank(const plan::Plan& plan, CommunicatorFactory& comms, const RunOptions& options);

// Resident memory of this process from /proc/self/status (VmRSS, VmHWM), bytes; 0 when unknown.
struct ResidentMemory {
  std::int64_t resident_bytes = 0, peak_resident_bytes = 0;
};
ResidentMemory read_resident_memory();

}  // namespace clustersim::executor
