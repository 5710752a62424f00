// The simulator's entry point: runs a Plan on a Hardware with a cost model and a network tier and
// returns the predicted Trace. Deterministic: same inputs, same trace, bit for bit.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "clustersim/plan/hardware.hpp"
#include "clustersim/plan/plan.hpp"
#include "clustersim/plan/trace.hpp"

namespace clustersim::engine {

class CostModel;
class CalibrationProfile;

enum class NetworkTier : std::uint8_t { analytical, flow };

// How many ranks the engine simulates.
//  * expanded:  every rank of the plan (needed when ranks differ: stragglers, degraded links).
//  * symmetric: one representative rank per (program, position) class; collectives are timed for all
//               concurrent instances of their group kind. Exact when the hardware is symmetric.
//  * automatic: symmetric when nothing breaks the symmetry, else expanded.
enum class RankMode : std::uint8_t { automatic, expanded, symmetric };

struct SimulationOptions {
  NetworkTier network = NetworkTier::analytical;
  std::string cost_model = "roofline";         // registry name: "roofline", "calibrated"
  std::shared_ptr<const CalibrationProfile> profile;  // required by "calibrated"
  std::string collective_algorithm = "auto";  // registry name: "auto", "ring", "tree", ...
  RankMode rank_mode = RankMode::automatic;
  bool record_ops = true;            // per-op spans in the trace (off for sweeps)
  bool record_memory_timeline = true;
  std::int32_t max_timeline_samples = 4096;  // down-sample memory timelines beyond this
  double compute_comm_overlap_slowdown = 1.0;  // compute op duration factor while a comm op overlaps
  // Called now and then with the fraction done (0..1); return false to cancel (throws Error).
  std::function<bool(double)> progress;
};

// Predicts one training step. Throws InputError when the plan needs something the hardware lacks
// (a dtype rate, more ranks than GPUs), InternalError on a malformed plan.
plan::Trace simulate(const plan::Plan& plan, const plan::Hardware& hardware, const SimulationOptions& options = {});

}  // namespace clustersim::engine
