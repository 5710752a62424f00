// Hand-made traces shared by the reports tests. Every duration is chosen so that the expected
// numbers in the tests can be worked out on paper; the arithmetic is spelled out next to each.
#pragma once

#include <algorithm>
#include <cstdint>
#include <string>
#include <vector>

#include "clustersim/plan/trace.hpp"

namespace clustersim::reports::testing {

// Program 0 "stage0": streams compute (0) and comm_dp (1).
//   op 0 fwd_gemm   gemm                 compute
//   op 1 attn       attention            compute
//   op 2 ln         memory (norm)        compute
//   op 3 bwd_gemm   gemm                 compute
//   op 4 grad_ar    comm:dp:all_reduce   comm_dp   4096 bytes
//   op 5 adam       optimizer            compute
inline plan::ProgramInfo stage_program(std::int32_t id = 0, std::string name = "stage0") {
  plan::ProgramInfo p;
  p.program = id;
  p.name = std::move(name);
  p.streams = {"compute", "comm_dp"};
  const auto op = [&](std::int32_t i, const char* n, OpKind kind, const char* cls, std::int16_t stream, double flops,
                      std::int64_t bytes) {
    plan::OpInfo o;
    o.op = i;
    o.name = n;
    o.kind = kind;
    o.op_class = cls;
    o.stream = stream;
    o.layer = 0;
    o.microbatch = 0;
    o.flops = flops;
    o.bytes = bytes;
    p.ops.push_back(o);
  };
  op(0, "fwd_gemm", OpKind::gemm, "gemm", 0, 2e9, 1000);
  op(1, "attn", OpKind::attention, "attention", 0, 5e8, 500);
  op(2, "ln", OpKind::norm, "memory", 0, 1e6, 200);
  op(3, "bwd_gemm", OpKind::gemm, "gemm", 0, 4e9, 2000);
  op(4, "grad_ar", OpKind::collective, "comm:dp:all_reduce", 1, 0, 4096);
  op(5, "adam", OpKind::optimizer, "optimizer", 0, 1e7, 800);
  return p;
}

inline void add_span(plan::Trace& t, std::int32_t rank, std::int32_t op, std::int16_t stream, std::int32_t step,
                     std::int64_t start, std::int64_t end) {
  plan::OpSpan s;
  s.rank = rank;
  s.op = op;
  s.stream = stream;
  s.step = step;
  s.start_ns = start;
  s.end_ns = end;
  t.ops.push_back(s);
}

// One step of program 0 on `rank` from `base`: ops 0..3 back to back on the compute stream with the
// given durations, the all-reduce at base + comm_start for comm_dur, then adam starting when both
// the compute ops and the all-reduce are done, for adam_dur.
inline void add_stage_step(plan::Trace& t, std::int32_t rank, std::int32_t step, std::int64_t base,
                           std::vector<std::int64_t> compute_durs, std::int64_t comm_start, std::int64_t comm_dur,
                           std::int64_t adam_dur) {
  std::int64_t t_ns = base;
  for (std::int32_t op = 0; op < 4; ++op) {
    add_span(t, rank, op, 0, step, t_ns, t_ns + compute_durs[static_cast<std::size_t>(op)]);
    t_ns += compute_durs[static_cast<std::size_t>(op)];
  }
  const std::int64_t comm_end = base + comm_start + comm_dur;
  add_span(t, rank, 4, 1, step, base + comm_start, comm_end);
  const std::int64_t adam_start = std::max(t_ns, comm_end);
  add_span(t, rank, 5, 0, step, adam_start, adam_start + adam_dur);
}

inline plan::RankMemory rank_memory(std::int32_t rank, std::int64_t peak, std::int64_t capacity) {
  plan::RankMemory m;
  m.rank = rank;
  m.peak_bytes = peak;
  m.capacity_bytes = capacity;
  m.fits = peak <= capacity;
  return m;
}

// The prediction: rank 0 only (representative of program 0), one step.
//   op0 [0,100] op1 [100,150] op2 [150,170] op3 [170,300] on compute; all-reduce [250,350] on comm_dp;
//   op5 [350,400]. Step window 400 ns; compute busy 300 + 50 = 350; idle 50; comm 100 of which
//   50 exposed ([300,350]). Classes: gemm 230, attention 50, memory 20, optimizer 50, comm 100.
inline plan::Trace predicted_trace() {
  plan::Trace t;
  t.source = plan::TraceSource::simulated;
  t.scenario = "tiny-gpt";
  t.hardware = "2 x test-gpu";
  t.backend = "sim:roofline/analytical";
  t.ranks = {0};
  t.program_of_rank = {0};
  t.programs = {stage_program()};
  add_stage_step(t, 0, 0, 0, {100, 50, 20, 130}, 250, 100, 50);
  plan::RankMemory m = rank_memory(0, 1000, 4000);
  m.at_peak = {{TensorRole::weight, 400}, {TensorRole::grad, 300}, {TensorRole::activation, 300}};
  m.timeline = {{0, 700}, {150, 1000}, {400, 700}};
  t.memory = {m};
  plan::CommSpan c;
  c.rank = 0;
  c.group = GroupKind::dp;
  c.group_id = 3;
  c.type = "all_reduce";
  c.bytes = 4096;
  c.start_ns = 250;
  c.end_ns = 350;
  t.comm = {c};
  t.summary.step_time_s = 400e-9;
  t.summary.compute_time_s = 350e-9;
  t.summary.comm_time_s = 100e-9;
  t.summary.exposed_comm_s = 50e-9;
  t.summary.peak_memory_bytes = 1000;
  t.summary.capacity_bytes = 4000;
  t.summary.fits = true;
  return t;
}

// The measurement: ranks 0 and 1 (both program 0), steps 0 (warm-up), 1 and 2.
//   step 0 at base 0:     both ranks: compute 1100, 600, 200, 1400; all-reduce at +3000 for 1200;
//                         adam 500 -> window [0, 4700].
//   step 1 at base 10000: rank 0: 110, 60, 20, 140 (ends +330); all-reduce +300 for 120 (ends +420);
//                                 adam +420..+470. busy 380, comm 120, exposed 90.
//                         rank 1: 130, 60, 20, 160 (ends +370); all-reduce +320 for 100 (ends +420);
//                                 adam +420..+470. busy 420, comm 100, exposed 50. window 470.
//   step 2 at base 20000: as step 1 with op 0 lasting 20 ns longer (everything after shifts by 20):
//                         rank 0 busy 400, rank 1 busy 440; window 490.
// Memory: rank 0 peaks at 1000 bytes, rank 1 at 1040.
inline plan::Trace measured_trace() {
  plan::Trace t;
  t.source = plan::TraceSource::measured;
  t.scenario = "tiny-gpt";
  t.hardware = "2 x test-gpu";
  t.backend = "cuda";
  t.ranks = {0, 1};
  t.program_of_rank = {0, 0};
  t.programs = {stage_program()};
  for (std::int32_t r = 0; r < 2; ++r) add_stage_step(t, r, 0, 0, {1100, 600, 200, 1400}, 3000, 1200, 500);
  add_stage_step(t, 0, 1, 10000, {110, 60, 20, 140}, 300, 120, 50);
  add_stage_step(t, 1, 1, 10000, {130, 60, 20, 160}, 320, 100, 50);
  add_stage_step(t, 0, 2, 20000, {130, 60, 20, 140}, 320, 120, 50);
  add_stage_step(t, 1, 2, 20000, {150, 60, 20, 160}, 340, 100, 50);
  t.memory = {rank_memory(0, 1000, 4000), rank_memory(1, 1040, 4000)};
  t.summary.steps = 3;
  t.summary.step_time_s = 480e-9;
  return t;
}

}  // namespace clustersim::reports::testing
