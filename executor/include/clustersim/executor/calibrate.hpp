// CPU calibration: measures op times with the executor's own code path (single-op plans run by a
// Worker, so dispatch, dtype staging and kernels are those of a real run) and writes them as a
// plan::CalibrationProfile ("clustersim.profile/1") for the engine's `calibrated` cost model:
//   gemm        per dtype over a grid of (m, n, k)
//   attention   per shape, flash and non-flash, forward and backward
//   memory      per calibration_key ("elementwise:<name>", "norm:<type>:<dir>", "softmax_xent:<dir>",
//               "embedding:<dir>", "optimizer:<kind>", "cast", and "memory") by plan::op_bytes
//   collectives per type, group size (the first n ranks) and size, through the MPI communicators
//   p2p         ping-pong between ranks 0 and 1 (one-way time)
//   overlap     GEMM slowdown while a communication thread is busy
//   kernel_overhead_ns  the time of the smallest op (included in every other time)
//   host        the gaps between ops on a stream thread: dispatch, wake-up by another stream, allocation
//   ops         with targets: each distinct kernel op of the target plans, exactly (plan::OpSample)
// Collective and p2p times are isolated operations: the members start together after a barrier
// (on a freshly written buffer), each member's median over repetitions, averaged over the members,
// which is what a run's comparison calls the transfer (from the last member's arrival to completion).
// Under mpirun every rank calls calibrate_cpu collectively; compute samples are measured on every
// rank at once (cores and memory bandwidth shared as in a run) and averaged; every rank returns the
// same profile. With world size 1 the communication sections are skipped, and the overlap section
// uses a memory-copy thread in place of communication.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "clustersim/executor/communicator.hpp"
#include "clustersim/plan/plan.hpp"
#include "clustersim/plan/profile.hpp"

namespace clustersim::executor {

struct CalibrationOptions {
  bool gemm = true, attention = true, memory = true, collectives = true, overlap = true;
  std::vector<DType> gemm_dtypes = {DType::fp32, DType::bf16, DType::fp16};
  std::vector<std::int64_t> gemm_sizes = {32, 128, 512, 2048};  // every (m, n, k) combination
  std::vector<DType> attention_dtypes = {DType::fp32, DType::bf16};
  std::int64_t attention_heads = 4;
  std::vector<std::int64_t> attention_seqs = {128, 256, 512, 1024};
  std::vector<std::int64_t> attention_head_dims = {64, 128};
  std::vector<std::int64_t> memory_bytes = {1 << 12, 1 << 16, 1 << 20, 1 << 24};  // main operand size (fp32)
  // Storage dtypes of the memory-bound samples: fp32 samples go under the plain key, the others
  // under "<key>@<dtype>" (plan::calibration_key_chain(plan, op)), at the same element counts.
  std::vector<DType> memory_dtypes = {DType::fp32};
  std::vector<std::int64_t> comm_bytes = {1 << 12, 1 << 16, 1 << 20, 1 << 24};
  double min_sample_s = 0.01;  // repeat each sample until this much op time (within the bounds below)
  int min_repeats = 3, max_repeats = 50;
  int blas_threads = 1;
  bool host = true;  // host overheads: dispatch, wake-up and allocation gaps between ops
  std::vector<std::int64_t> alloc_bytes = {1 << 12, 1 << 16, 1 << 20, 1 << 24};  // allocation sizes timed
  // Targeted calibration (`clustersim calibrate --for SCENARIO`): every distinct kernel op of these
  // plans (plan::op_signature) is measured alone on a copy of its tensors, and their collectives
  // (type, group size, bytes, dtype) and transfer sizes are measured exactly. `grid` false skips the
  // shape/size grids (the profile then covers these plans only, and is made in seconds).
  std::vector<plan::Plan> targets;
  bool grid = true;
  int exact_rounds = 45;  // rounds over the targets' ops (each op once per round; medians over rounds)
  // Every this many rounds, one sample of the ranks' relative speeds (15 samples from 45 rounds).
  // A rank's pace relative to the others drifts over periods of a few hundred ms (in one
  // gpt-tiny-bf16 run on the development VM, rank 0 computed 5% slower than rank 1 in steps
  // 5-20 and 10% faster in steps 21-32); 15 consecutive rounds (about 0.2 s) sampled one period,
  // and the samples' mean spread moved from 0.003 to 0.08 between calibrations of one machine.
  int rank_sample_stride = 3;
  std::function<void(const std::string& phase, double fraction)> progress;

  // A small grid (seconds on two cores) for tests and smoke runs.
  static CalibrationOptions quick();
};

// Measures the profile. Collective over every rank of `comms`; throws Error on MPI failures.
plan::CalibrationProfile calibrate_cpu(CommunicatorFactory& comms, const CalibrationOptions& options = {});

// The inputs of `op` (indices into op.inputs) that, in a run, the op before it has just written,
// so that a targeted calibration writes them again before each timed repetition of the op: its
// activation gradients, and the activations that a forward or recompute op reads (a backward op
// reads the forward's saved activations, written long before); float dtypes only. Timed on a
// cold copy, the development VM's GEMM and attention ops had come out 10-20% slower than in the
// runs (llama-tiny-recompute: GEMM +11% to +17%); with these inputs rewritten, +4% to +8%.
std::vector<std::size_t> freshly_written_inputs(const plan::Plan& plan, const plan::Op& op);

// How long a rank computes, in a run, before the collective `op` of program `program`: the
// times `ops` (exact-op samples, by plan::op_signature) of the ops between the rank's previous
// communication op (a send, a receive or a collective over more than one rank; the step before's
// last one for the step's first) and `op`, in program order; an op without a sample counts 0. A
// targeted calibration times each collective after as much compute (docs/VALIDATION.md).
double compute_before_collective_ns(const plan::Plan& plan, std::int32_t program, std::size_t op,
                                    const std::vector<plan::OpSample>& ops);

// The machine's state in about 50 ms (plan::MachineProbe): a 1 MiB fp32 all-reduce over the world,
// 40 times back to back after a barrier, and a 256^3 fp32 GEMM on this core, 20 times; medians,
// averaged over the ranks. Collective over every rank of `comms`.
plan::MachineProbe probe_machine(CommunicatorFactory& comms);

}  // namespace clustersim::executor
