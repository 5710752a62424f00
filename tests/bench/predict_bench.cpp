// Whole predictions as a user runs them: parse the scenario, build the plan, simulate one step.
// Reported per iteration, with the plan's size and the events the engine processed as counters.
#include <benchmark/benchmark.h>

#include "clustersim/engine/simulate.hpp"
#include "clustersim/models/build.hpp"

namespace {

using namespace clustersim;

nlohmann::json llama3_8b_64_gpus() {
  return nlohmann::json::parse(R"({
    "name": "llama3-8b-64xH100",
    "cluster": {"nodes": 8, "gpus_per_node": 8, "gpu": "H100-SXM-80GB",
                "inter_node": {"link": "ib-ndr-400", "nics_per_node": 8}},
    "model": {"architecture": "llama3-8b", "seq_len": 8192},
    "training": {"global_batch": 512, "micro_batch": 1, "precision": "bf16", "zero_stage": 1,
                 "recompute": "selective"},
    "parallelism": {"tp": 4, "pp": 2, "sp": true}
  })");
}

void predict(benchmark::State& state, const nlohmann::json& j, const std::string& network) {
  nlohmann::json scenario = j;
  models::set_path(scenario, "simulation.network", network);
  const models::Scenario sc = models::parse_scenario(scenario);
  const plan::Hardware hw = models::hardware_of(sc);
  std::int64_t ops = 0, events = 0;
  for (auto _ : state) {
    const plan::Plan p = models::build_plan(sc);
    engine::SimulationOptions o;
    o.network = network == "flow" ? engine::NetworkTier::flow : engine::NetworkTier::analytical;
    const plan::Trace t = engine::simulate(p, hw, o);
    ops = 0;
    for (const auto& prog : p.programs) ops += static_cast<std::int64_t>(prog.ops.size());
    events = t.summary.events;
    benchmark::DoNotOptimize(t.summary.step_time_s);
  }
  state.counters["plan_ops"] = static_cast<double>(ops);
  state.counters["events"] = static_cast<double>(events);
  state.counters["events_per_s"] =
      benchmark::Counter(static_cast<double>(events), benchmark::Counter::kIsIterationInvariantRate);
}

void BM_PredictLlama3_8B_64Gpus(benchmark::State& state) {
  predict(state, llama3_8b_64_gpus(), "analytical");
}
BENCHMARK(BM_PredictLlama3_8B_64Gpus)->Unit(benchmark::kMillisecond);

void BM_PredictGpt3_175B_1024Gpus(benchmark::State& state) {
  predict(state, models::load_scenario_json(std::string(CLUSTERSIM_SOURCE_DIR) + "/scenarios/gpt3-175b-1024xA100.json"),
          "analytical");
}
BENCHMARK(BM_PredictGpt3_175B_1024Gpus)->Unit(benchmark::kMillisecond)->Iterations(1);

// The same step on the flow network tier: collectives as flows on the rail-optimised fat tree with
// max-min fair sharing.
void BM_PredictGpt3_175B_1024Gpus_Flow(benchmark::State& state) {
  predict(state, models::load_scenario_json(std::string(CLUSTERSIM_SOURCE_DIR) + "/scenarios/gpt3-175b-1024xA100.json"),
          "flow");
}
BENCHMARK(BM_PredictGpt3_175B_1024Gpus_Flow)->Unit(benchmark::kMillisecond)->Iterations(1);

}  // namespace

BENCHMARK_MAIN();
