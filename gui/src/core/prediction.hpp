// One prediction as the dashboard sees it: a plain, immutable struct built on a worker thread and
// handed to the view models by signal (plan meta + predicted trace + resolved hardware facts). The
// whole chain (build_plan, hardware_of, engine::simulate) runs in `predict`, which is synchronous and
// checks a cancellation callback between stages and through SimulationOptions::progress.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "clustersim/engine/simulate.hpp"
#include "clustersim/models/scenario.hpp"
#include "clustersim/plan/hardware.hpp"
#include "clustersim/plan/plan.hpp"
#include "clustersim/plan/trace.hpp"
#include "core/preview.hpp"

namespace clustersim::gui {

struct PredictionResult {
  std::uint64_t revision = 0;  // ScenarioDocument::revision() of the scenario it was made from
  std::string scenario_name;
  nlohmann::json scenario_json;  // the scenario it was made from (after edits)
  plan::PlanMeta meta;
  std::int32_t world_size = 0;
  std::int32_t program_count = 0;
  std::int64_t plan_ops = 0;  // ops over all programs
  plan::Hardware hardware;
  plan::Trace trace;
  double build_ms = 0.0;     // build_plan + hardware_of
  double simulate_ms = 0.0;  // engine::simulate
  // The closed-form estimate of the same scenario (transformers), so the next knob change can be
  // previewed relative to this simulation (see preview.hpp).
  std::optional<EstimateFacts> facts;
};
using PredictionPtr = std::shared_ptr<const PredictionResult>;

// Thrown by `predict` when the cancellation callback asked to stop.
struct PredictionCancelled {};

// The engine options a scenario asks for (simulation.network, cost_model, profile,
// collective_algorithm, rank_mode). InputError for unknown names and unreadable profiles.
engine::SimulationOptions simulation_options_for(const models::Scenario& scenario);

// Builds and simulates `scenario`. `cancelled` (may be empty) is polled between stages and by the
// simulator's progress callback; when it returns true the run stops with PredictionCancelled.
// Library errors (InputError, Error) propagate unchanged. `record_ops` false skips op spans (sweeps).
PredictionPtr predict(const models::Scenario& scenario, std::uint64_t revision,
                      const std::function<bool()>& cancelled = {}, bool record_ops = true);

}  // namespace clustersim::gui
