// Google Benchmark suite of the engine: raw event-queue throughput, and simulate() on a large
// synthetic plan (64 ranks x 50k ops, every rank simulated) and on a wide data-parallel plan reduced
// by the symmetric rank mode, on the analytical and the flow network tiers. Counters report events,
// ops and ranks per second of wall time.
#include <benchmark/benchmark.h>

#include <cstdint>
#include <random>
#include <vector>

#include "clustersim/engine/event_queue.hpp"
#include "clustersim/engine/simulate.hpp"

namespace clustersim {
namespace {

// Push/pop at a steady population, as a simulator does: every pop schedules one later event.
void BM_EventQueue(benchmark::State& state) {
  const auto population = static_cast<std::size_t>(state.range(0));
  std::mt19937_64 rng(1);
  std::uniform_int_distribution<std::int64_t> delay(1, 100'000);
  std::vector<std::int64_t> delays(1 << 16);
  for (auto& d : delays) d = delay(rng);
  engine::EventQueue q;
  for (std::size_t i = 0; i < population; ++i) q.push(delays[i % delays.size()], static_cast<std::int64_t>(i));
  std::size_t k = 0;
  for (auto _ : state) {
    const engine::Event e = q.pop();
    q.push(e.time_ns + delays[k++ & (delays.size() - 1)], e.token);
    benchmark::DoNotOptimize(e);
  }
  state.counters["events/s"] = benchmark::Counter(static_cast<double>(state.iterations()), benchmark::Counter::kIsRate);
}
BENCHMARK(BM_EventQueue)->Arg(64)->Arg(4096)->Arg(1 << 18);

plan::Hardware bench_hardware(std::int32_t nodes) {
  plan::Hardware hw;
  hw.name = "bench";
  hw.nodes = nodes;
  hw.gpus_per_node = 8;
  hw.gpu.name = "bench-gpu";
  hw.gpu.memory_gib = 80.0;
  hw.gpu.memory_bandwidth_gbytes_s = 3350.0;
  hw.gpu.peak_tflops = {{DType::fp32, 67.0}, {DType::bf16, 989.0}};
  hw.gpu.efficiency["gemm"] = {0.8, 1e9};
  hw.gpu.efficiency["memory"] = {0.9, 1e6};
  hw.intra_node = {"nvswitch", 3600.0, 3.0, 0.8};
  hw.inter_node.link = {"ib", 400.0, 5.0, 0.9};
  hw.inter_node.nics_per_node = 8;
  return hw;
}

// One program shared by every rank of a TP x DP layout (TP inside a node, DP across nodes):
// repeating blocks of GEMM -> elementwise -> GEMM with activations allocated and freed, a TP
// all-reduce every 10 ops on the compute stream, a DP all-reduce every 50 ops on a comm stream.
plan::Plan synthetic_plan(std::int32_t nodes, std::int32_t ops_per_rank) {
  const std::int32_t world = nodes * 8;
  plan::Plan p;
  p.world_size = world;
  p.meta.scenario = "bench";
  for (std::int32_t g = 0; g < nodes; ++g) {
    plan::Group tp{static_cast<std::int32_t>(p.groups.size()), GroupKind::tp, {}};
    for (std::int32_t i = 0; i < 8; ++i) tp.ranks.push_back(g * 8 + i);
    p.groups.push_back(tp);
  }
  for (std::int32_t i = 0; i < 8; ++i) {
    plan::Group dp{static_cast<std::int32_t>(p.groups.size()), GroupKind::dp, {}};
    for (std::int32_t g = 0; g < nodes; ++g) dp.ranks.push_back(g * 8 + i);
    p.groups.push_back(dp);
  }
  for (std::int32_t i = 0; i < 4; ++i) {
    plan::Tensor t;
    t.id = i, t.name = "act" + std::to_string(i), t.dtype = DType::bf16, t.shape = {1 << 22}, t.bytes = 1 << 23;
    p.tensors.push_back(t);
  }
  plan::Program prog;
  prog.name = "replica";
  prog.streams = {{0, "compute", StreamKind::compute}, {1, "dp", StreamKind::comm}};
  plan::OpId last_compute = -1;
  plan::TensorId live = -1;
  std::int64_t allocations = 0;
  for (std::int32_t i = 0; i < ops_per_rank; ++i) {
    plan::Op op;
    op.id = i;
    const std::int32_t slot = i % 50;
    if (slot == 49) {
      plan::CollectiveParams c;
      c.group = GroupKind::dp, c.bytes = 32 << 20;
      op.name = "dp_ar", op.kind = OpKind::collective, op.stream = 1, op.params = c;
      op.deps = {last_compute};
    } else if (slot % 10 == 9) {
      plan::CollectiveParams c;
      c.group = GroupKind::tp, c.bytes = 4 << 20;
      op.name = "tp_ar", op.kind = OpKind::collective, op.params = c;
    } else if (slot % 3 == 1) {
      plan::ElementwiseParams e;
      e.name = "gelu", e.bytes_read = 1 << 23, e.bytes_written = 1 << 23;
      op.name = "gelu", op.kind = OpKind::elementwise, op.params = e;
      last_compute = i;
    } else {
      plan::GemmParams g;
      g.m = 4096, g.n = 1024 + 64 * (slot % 7), g.k = 4096, g.dtype = DType::bf16;
      op.name = "gemm", op.kind = OpKind::gemm, op.params = g;
      if (slot % 3 == 0 && live < 0) {
        live = static_cast<plan::TensorId>(allocations++ % 4);
        op.allocs = {live};
      } else if (slot % 3 == 2 && live >= 0) {
        op.frees = {live};
        live = -1;
      }
      last_compute = i;
    }
    prog.ops.push_back(std::move(op));
  }
  if (live >= 0) prog.ops.back().frees.push_back(live);  // a trailing block's activation
  p.programs = {prog};
  p.program_of_rank.assign(static_cast<std::size_t>(world), 0);
  plan::validate(p);
  return p;
}

void BM_SimulateExpanded(benchmark::State& state) {
  const plan::Plan plan = synthetic_plan(8, 50'000);  // 64 ranks x 50k ops
  const plan::Hardware hw = bench_hardware(8);
  engine::SimulationOptions o;
  o.rank_mode = engine::RankMode::expanded;
  o.record_ops = state.range(0) != 0;
  std::int64_t events = 0;
  for (auto _ : state) {
    const plan::Trace t = engine::simulate(plan, hw, o);
    events = t.summary.events;
    benchmark::DoNotOptimize(t.summary.step_time_s);
  }
  const double iters = static_cast<double>(state.iterations());
  state.counters["ops/s"] = benchmark::Counter(iters * 64 * 50'000, benchmark::Counter::kIsRate);
  state.counters["events/s"] = benchmark::Counter(iters * static_cast<double>(events), benchmark::Counter::kIsRate);
}
BENCHMARK(BM_SimulateExpanded)->Arg(0)->Arg(1)->ArgName("record_ops")->Unit(benchmark::kMillisecond)->UseRealTime();

void BM_SimulateSymmetric(benchmark::State& state) {
  const auto nodes = static_cast<std::int32_t>(state.range(0));
  const plan::Plan plan = synthetic_plan(nodes, 5'000);
  const plan::Hardware hw = bench_hardware(nodes);
  engine::SimulationOptions o;
  o.rank_mode = engine::RankMode::symmetric;
  for (auto _ : state) benchmark::DoNotOptimize(engine::simulate(plan, hw, o).summary.step_time_s);
  state.counters["ranks/s"] =
      benchmark::Counter(static_cast<double>(state.iterations()) * nodes * 8, benchmark::Counter::kIsRate);
}
BENCHMARK(BM_SimulateSymmetric)->Arg(16)->Arg(1024)->ArgName("nodes")->Unit(benchmark::kMillisecond)->UseRealTime();

// The same two plans on the flow network tier: every collective becomes flows on the NVSwitch and
// NIC links (expanded: each group instance its own; symmetric: one representative's collective
// carries the flows of every instance it stands for).
void BM_SimulateExpandedFlow(benchmark::State& state) {
  const plan::Plan plan = synthetic_plan(8, 50'000);
  const plan::Hardware hw = bench_hardware(8);
  engine::SimulationOptions o;
  o.rank_mode = engine::RankMode::expanded;
  o.network = engine::NetworkTier::flow;
  o.record_ops = false;
  std::int64_t events = 0;
  for (auto _ : state) {
    const plan::Trace t = engine::simulate(plan, hw, o);
    events = t.summary.events;
    benchmark::DoNotOptimize(t.summary.step_time_s);
  }
  const double iters = static_cast<double>(state.iterations());
  state.counters["ops/s"] = benchmark::Counter(iters * 64 * 50'000, benchmark::Counter::kIsRate);
  state.counters["events/s"] = benchmark::Counter(iters * static_cast<double>(events), benchmark::Counter::kIsRate);
}
BENCHMARK(BM_SimulateExpandedFlow)->Unit(benchmark::kMillisecond)->UseRealTime();

void BM_SimulateSymmetricFlow(benchmark::State& state) {
  const auto nodes = static_cast<std::int32_t>(state.range(0));
  const plan::Plan plan = synthetic_plan(nodes, 5'000);
  const plan::Hardware hw = bench_hardware(nodes);
  engine::SimulationOptions o;
  o.rank_mode = engine::RankMode::symmetric;
  o.network = engine::NetworkTier::flow;
  for (auto _ : state) benchmark::DoNotOptimize(engine::simulate(plan, hw, o).summary.step_time_s);
  state.counters["ranks/s"] =
      benchmark::Counter(static_cast<double>(state.iterations()) * nodes * 8, benchmark::Counter::kIsRate);
}
BENCHMARK(BM_SimulateSymmetricFlow)->Arg(16)->Arg(1024)->ArgName("nodes")->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace
}  // namespace clustersim

BENCHMARK_MAIN();
