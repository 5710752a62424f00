// The prediction chain for one scenario: models::build_plan -> models::hardware_of ->
// engine::simulate, with cancellation between stages and inside the simulation.
#include "core/prediction.hpp"

#include <chrono>

#include "clustersim/models/build.hpp"
#include "clustersim/plan/error.hpp"

namespace clustersim::gui {

engine::SimulationOptions simulation_options_for(const models::Scenario& scenario) {
  engine::SimulationOptions o;
  const auto& sim = scenario.simulation;
  if (sim.network == "analytical") {
    o.network = engine::NetworkTier::analytical;
  } else if (sim.network == "flow") {
    o.network = engine::NetworkTier::flow;
  } else {
    throw InputError("simulation.network", "\"" + sim.network + "\"", "one of \"analytical\" or \"flow\"");
  }
  o.cost_model = sim.cost_model;
  if (!sim.profile.empty())
    o.profile = std::make_shared<const plan::CalibrationProfile>(plan::read_profile_file(sim.profile));
  o.collective_algorithm = sim.collective_algorithm;
  if (sim.rank_mode == "auto") {
    o.rank_mode = engine::RankMode::automatic;
  } else if (sim.rank_mode == "expanded") {
    o.rank_mode = engine::RankMode::expanded;
  } else if (sim.rank_mode == "symmetric") {
    o.rank_mode = engine::RankMode::symmetric;
  } else {
    throw InputError("simulation.rank_mode", "\"" + sim.rank_mode + "\"",
                     "one of \"auto\", \"expanded\" or \"symmetric\"");
  }
  o.max_timeline_samples = 1024;
  return o;
}

PredictionPtr predict(const models::Scenario& scenario, std::uint64_t revision, const std::function<bool()>& cancelled,
                      bool record_ops) {
  using clock = std::chrono::steady_clock;
  const auto check = [&] {
    if (cancelled && cancelled()) throw PredictionCancelled{};
  };
  auto result = std::make_shared<PredictionResult>();
  result->revision = revision;
  result->scenario_name = scenario.name;
  result->scenario_json = scenario.source;

  check();
  const auto t0 = clock::now();
  engine::SimulationOptions options = simulation_options_for(scenario);
  options.record_ops = record_ops;
  options.record_memory_timeline = record_ops;
  options.keep_noise_comm = true;  // a validation against a run compares the median transfer
  bool stopped = false;
  if (cancelled) {
    options.progress = [&](double) {
      stopped = cancelled();
      return !stopped;
    };
  }
  const plan::Plan plan = models::build_plan(scenario);
  result->hardware = models::hardware_of(scenario);
  result->meta = plan.meta;
  result->facts = estimate_facts(scenario);
  result->world_size = plan.world_size;
  result->program_count = static_cast<std::int32_t>(plan.programs.size());
  for (const auto& p : plan.programs) result->plan_ops += static_cast<std::int64_t>(p.ops.size());
  const auto t1 = clock::now();
  check();
  try {
    result->trace = engine::simulate(plan, result->hardware, options);
  } catch (const Error&) {
    if (stopped) throw PredictionCancelled{};
    throw;
  }
  const auto t2 = clock::now();
  check();
  result->build_ms = std::chrono::duration<double, std::milli>(t1 - t0).count();
  result->simulate_ms = std::chrono::duration<double, std::milli>(t2 - t1).count();
  return result;
}

}  // namespace clustersim::gui
