// Shared wiring for the CLI commands: loading a scenario with --set overrides, turning its
// simulation section into engine options, the facts reports print, output files, and the mapping
// from exceptions to exit codes (0 ok, 1 failed check, 2 bad input, 3 internal error).
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "clustersim/engine/simulate.hpp"
#include "clustersim/models/scenario.hpp"
#include "clustersim/plan/plan.hpp"
#include "clustersim/reports/context.hpp"

namespace clustersim::cli {

inline constexpr int kExitOk = 0;
inline constexpr int kExitCheckFailed = 1;
inline constexpr int kExitBadInput = 2;
inline constexpr int kExitInternal = 3;

struct LoadedScenario {
  std::string path;
  nlohmann::json json;  // after overrides
  models::Scenario scenario;
};

// Reads SCENARIO, applies each "path=value" override in order, parses and validates.
LoadedScenario load_scenario(const std::string& path, const std::vector<std::string>& overrides);

// Engine options from the scenario's simulation section (network tier, cost model + profile,
// collective algorithm, rank mode).
engine::SimulationOptions simulation_options(const models::Scenario& scenario);

// The facts a report shows about a scenario (model, GPUs, parallelism, batch, precision...).
reports::ReportContext report_context(const models::Scenario& scenario, const plan::Plan& plan);

// Writes `text` to `path` atomically (temporary file, then rename); "-" writes to stdout.
void write_text_file(const std::string& path, const std::function<void(std::ostream&)>& writer);

// Runs `body` and maps exceptions to exit codes with a one-line message on stderr.
int guarded(const std::function<int()>& body);

// A progress bar on stderr when it is a terminal (silent otherwise). Returns a callback for
// SimulationOptions::progress and similar; `label` prefixes the bar.
std::function<bool(double)> progress_bar(const std::string& label, bool enabled);

}  // namespace clustersim::cli
