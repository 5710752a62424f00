// Sweeps: a base scenario plus axes over any dot path, expanded as a grid or as seeded random
// samples, evaluated in parallel (each point: parse, build, simulate), one row per point with every
// predicted metric. Invalid points are reported with their error, not dropped.
//
// Sweep file (JSON):
//   { "name": "...", "description": "...",
//     "base": "relative/or/absolute/scenario.json" | { ...an inline scenario... },
//     "set":  { "simulation.network": "flow", ... },              // overrides applied to every point
//     "mode": "grid" | "random",  "samples": 64, "seed": 1,       // random: samples drawn per run
//     "axes": [ { "path": "parallelism.tp", "values": [1, 2, 4, 8] },
//               { "path": "training.micro_batch", "range": { "min": 1, "max": 8, "integer": true, "log": true } } ] }
// Grid mode needs "values" on every axis; random mode draws each axis uniformly from its values or
// its range (log-uniform when "log"). A null value removes the field (e.g. to let dp be derived).
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "clustersim/engine/simulate.hpp"
#include "clustersim/plan/trace.hpp"

namespace clustersim::explore {

struct Axis {
  std::string path;
  std::vector<nlohmann::json> values;  // grid or random choice
  // Random ranges (when values is empty).
  double min = 0.0, max = 0.0;
  bool integer = false, log = false;
};

struct SweepSpec {
  std::string name, description;
  nlohmann::json base;                          // the base scenario, resolved
  std::vector<std::pair<std::string, nlohmann::json>> set;  // fixed overrides
  std::vector<Axis> axes;
  bool random = false;
  std::int64_t samples = 0;
  std::int64_t seed = 1;
};

// Reads a sweep file; a relative "base" path is resolved against the sweep file's folder.
// InputError names the JSON path of any problem.
SweepSpec load_sweep(const std::string& path);
SweepSpec parse_sweep(const nlohmann::json& j, const std::string& base_dir);

// One point: its axis values (in axis order) and the scenario JSON it produces.
struct SweepPoint {
  std::int64_t index = 0;
  std::vector<nlohmann::json> values;
  nlohmann::json scenario;
};

// Expands the sweep into points (grid: cartesian product in axis order, last axis fastest;
// random: `samples` draws from a generator seeded with `seed`). Deterministic.
std::vector<SweepPoint> expand(const SweepSpec& spec);

struct PointResult {
  std::int64_t index = 0;
  std::vector<nlohmann::json> values;
  bool ok = false;
  std::string error;          // the InputError message when not ok
  std::string error_path;     // its JSON path
  plan::Trace trace;           // when ok: summary and memory breakdown (no op spans, no timeline)
};

struct EvaluateOptions {
  int jobs = 0;  // worker threads, 0 = all cores
  // Partition across processes: this process evaluates points with index % parts == part.
  int part = 0, parts = 1;
  std::function<void(std::int64_t done, std::int64_t total)> progress;
  engine::SimulationOptions simulation;  // record_ops is forced off
};

// Evaluates the points of this partition in parallel. Results are in point order.
std::vector<PointResult> evaluate(const std::vector<SweepPoint>& points, const EvaluateOptions& options);

// Evaluates one scenario JSON (parse, build, simulate) into a PointResult; never throws for bad
// scenarios (they become !ok rows).
PointResult evaluate_point(const SweepPoint& point, const engine::SimulationOptions& simulation);

// Output: CSV (header from the axis paths, then status, error and every metric of
// reports::csv_columns) and JSON (array of rows).
std::string results_csv(const SweepSpec& spec, const std::vector<PointResult>& results);
nlohmann::json results_json(const SweepSpec& spec, const std::vector<PointResult>& results);

// Results as JSON and back, to move them between processes.
nlohmann::json to_json(const PointResult& r);
PointResult point_result_from_json(const nlohmann::json& j);

}  // namespace clustersim::explore
