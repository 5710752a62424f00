// `clustersim sweep SWEEP.json` and `clustersim search SCENARIO`: argument parsing and wiring over
// the explore library. Under `mpirun -n N clustersim sweep ...` each rank evaluates every N-th point
// and rank 0 gathers the rows (Open MPI is the distributed engine).
#include <cstdlib>
#include <iostream>

#include <fmt/format.h>

#include "clustersim/executor/communicator.hpp"
#include "clustersim/explore/search.hpp"
#include "clustersim/explore/sweep.hpp"
#include "clustersim/plan/json.hpp"
#include "clustersim/reports/format.hpp"
#include "commands.hpp"
#include "common.hpp"

namespace clustersim::cli {

namespace {

// True when started by an MPI launcher with more than one process.
bool launched_by_mpi() {
  for (const char* var : {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_SIZE"})
    if (const char* v = std::getenv(var); v != nullptr && std::atoi(v) > 1) return true;
  return false;
}

struct SweepArgs {
  std::string sweep, format = "csv", output = "-";
  std::vector<std::string> overrides;
  int jobs = 0;
  bool progress = true;
};

struct SearchArgs {
  std::string scenario, objective = "throughput", format = "table", output = "-";
  std::vector<std::string> overrides;
  std::vector<std::int32_t> nodes;
  int top = 5, simulate = 24, jobs = 0;
  std::int64_t refine = -1;
  bool progress = true;
};

}  // namespace

CommandEntry add_sweep(CLI::App& app) {
  auto args = std::make_shared<SweepArgs>();
  CLI::App* cmd = app.add_subcommand("sweep",
                                     "Predict every point of a sweep (grid or seeded random) over scenario "
                                     "fields, on all cores, or split across ranks under mpirun");
  cmd->add_option("sweep", args->sweep, "Sweep JSON file (see docs/SWEEP.md)")->required();
  cmd->add_option("--set", args->overrides, "Override a field of the base scenario: path=value (repeatable)");
  cmd->add_option("--format", args->format, "csv or json")->check(CLI::IsMember({"csv", "json"}));
  cmd->add_option("-o,--output", args->output, "Write the rows to a file instead of stdout");
  cmd->add_option("-j,--jobs", args->jobs, "Worker threads per process (default: all cores)");
  cmd->add_flag("!--no-progress", args->progress, "Do not draw a progress bar");
  return {cmd, [args]() {
            explore::SweepSpec spec = explore::load_sweep(args->sweep);
            for (const auto& o : args->overrides) models::apply_override(spec.base, o);
            const auto points = explore::expand(spec);
            explore::EvaluateOptions options;
            options.jobs = args->jobs;
            std::unique_ptr<executor::MpiSession> mpi;
            std::unique_ptr<executor::CommunicatorFactory> world;
            if (launched_by_mpi() && executor::mpi_built()) {
              mpi = std::make_unique<executor::MpiSession>();
              world = executor::make_mpi_communicators();
              options.part = mpi->rank();
              options.parts = mpi->size();
            }
            auto bar = progress_bar("sweep", args->progress && options.part == 0);
            if (bar)
              options.progress = [bar](std::int64_t done, std::int64_t total) { bar(double(done) / double(total)); };
            std::vector<explore::PointResult> results = explore::evaluate(points, options);
            if (world) {
              nlohmann::json mine = nlohmann::json::array();
              for (const auto& r : results) mine.push_back(explore::to_json(r));
              const auto gathered = world->world().gather_strings(mine.dump(), 0);
              if (options.part != 0) return kExitOk;
              results.clear();
              for (const auto& part : gathered)
                for (const auto& r : nlohmann::json::parse(part)) results.push_back(explore::point_result_from_json(r));
              std::sort(results.begin(), results.end(), [](const auto& a, const auto& b) { return a.index < b.index; });
            }
            write_text_file(args->output, [&](std::ostream& os) {
              if (args->format == "json")
                os << explore::results_json(spec, results).dump(2) << '\n';
              else
                os << explore::results_csv(spec, results);
            });
            std::size_t invalid = 0;
            for (const auto& r : results) invalid += r.ok ? 0 : 1;
            std::cerr << fmt::format("sweep {}: {} points, {} valid, {} invalid{}\n", spec.name, results.size(),
                                     results.size() - invalid, invalid,
                                     options.parts > 1 ? fmt::format(" ({} MPI ranks)", options.parts) : "");
            return kExitOk;
          }};
}

CommandEntry add_search(CLI::App& app) {
  auto args = std::make_shared<SearchArgs>();
  CLI::App* cmd = app.add_subcommand("search",
                                     "Find the best parallel configuration for a scenario's model and "
                                     "cluster: enumerate, prune by memory, rank, simulate the best");
  cmd->add_option("scenario", args->scenario, "Scenario JSON file (its model, cluster and global batch are kept)")
      ->required();
  cmd->add_option("--set", args->overrides, "Override a scenario field first: path=value (repeatable)");
  cmd->add_option("--objective", args->objective, "throughput (step time), memory (peak), or cost (USD per 1M tokens)")
      ->check(CLI::IsMember({"throughput", "memory", "cost"}));
  cmd->add_option("--top", args->top, "How many configurations to report")->check(CLI::Range(1, 1000));
  cmd->add_option("--refine", args->refine,
                  "How many of the best closed-form estimates to re-rank by the step model with costed compute "
                  "(-1: all, 0: none)")
      ->check(CLI::Range(-1, 100000000));
  cmd->add_option("--simulate", args->simulate, "How many of the best estimates to simulate")
      ->check(CLI::Range(1, 100000));
  cmd->add_option("--nodes", args->nodes,
                  "Cluster sizes (nodes) to consider, e.g. --nodes 64,128 (default: the "
                  "scenario's)")
      ->delimiter(',')
      ->check(CLI::Range(1, 1000000));
  cmd->add_option("--format", args->format, "table or json")->check(CLI::IsMember({"table", "json"}));
  cmd->add_option("-o,--output", args->output, "Write the result to a file instead of stdout");
  cmd->add_option("-j,--jobs", args->jobs, "Worker threads (default: all cores)");
  cmd->add_flag("!--no-progress", args->progress, "Do not draw a progress bar");
  return {cmd, [args]() {
            const LoadedScenario loaded = load_scenario(args->scenario, args->overrides);
            explore::SearchOptions options;
            options.objective = explore::parse_objective(args->objective);
            options.top = args->top;
            options.simulate = args->simulate;
            options.refine = args->refine;
            options.jobs = args->jobs;
            options.nodes = args->nodes;
            options.simulation = simulation_options(loaded.scenario);
            auto estimate_bar = progress_bar("estimate", args->progress);
            auto refine_bar = progress_bar("refine", args->progress);
            auto simulate_bar = progress_bar("simulate", args->progress);
            if (estimate_bar)
              options.progress = [=](const std::string& stage, std::int64_t done, std::int64_t total) {
                (stage == "estimate" ? estimate_bar
                 : stage == "refine" ? refine_bar
                                     : simulate_bar)(double(done) / double(total));
              };
            const explore::SearchResult r = explore::search(loaded.json, options);
            write_text_file(args->output, [&](std::ostream& os) {
              if (args->format == "json") {
                nlohmann::json j = {{"schema", "clustersim.search/1"},
                                    {"scenario", loaded.scenario.name},
                                    {"objective", args->objective},
                                    {"objective_unit", r.objective_unit},
                                    {"enumerated", r.enumerated},
                                    {"invalid", r.invalid},
                                    {"pruned_memory", r.pruned_memory},
                                    {"estimated", r.estimated},
                                    {"refined", r.refined},
                                    {"simulated", r.simulated},
                                    {"simulated_not_fitting", r.simulated_not_fitting}};
                nlohmann::json ranked = nlohmann::json::array();
                for (const auto& c : r.ranked)
                  ranked.push_back(
                      {{"config", c.config.describe()},
                       {"objective", c.objective},
                       {"summary", plan::to_json(c.summary)},
                       {"scenario", c.scenario},
                       {"why", c.why},
                       {"estimate",
                        {{"step_time_s", c.estimate.step_time_s}, {"peak_memory_bytes", c.estimate.peak_memory_bytes}}},
                       {"step_model",
                        c.refined ? nlohmann::json{{"step_time_s", c.model.step_time_s}, {"costed", c.model.costed}}
                                  : nlohmann::json(nullptr)}});
                j["ranked"] = ranked;
                os << j.dump(2) << '\n';
                return;
              }
              os << fmt::format("search {}: objective {} ({}, lower is better)\n", loaded.scenario.name,
                                args->objective, r.objective_unit);
              os << fmt::format(
                  "  {} configurations enumerated, {} invalid for this model/cluster, {} pruned by the "
                  "memory estimate, {} ranked by estimate, {} of them re-ranked with costed compute, {} "
                  "simulated ({} did not fit)\n\n",
                  r.enumerated, r.invalid, r.pruned_memory, r.estimated, r.refined, r.simulated,
                  r.simulated_not_fitting);
              if (r.ranked.empty()) {
                os << "  no configuration fits in memory\n";
                return;
              }
              for (std::size_t i = 0; i < r.ranked.size(); ++i) {
                const auto& c = r.ranked[i];
                os << fmt::format("#{} {}\n   step {}  {}  MFU {}  peak {}\n   why: {}\n", i + 1, c.config.describe(),
                                  reports::format_duration_s(c.summary.step_time_s),
                                  c.summary.tokens_per_s > 0 ? reports::format_rate(c.summary.tokens_per_s, "tokens")
                                                             : reports::format_rate(c.summary.samples_per_s, "samples"),
                                  reports::format_percent(c.summary.mfu),
                                  reports::format_bytes(c.summary.peak_memory_bytes), c.why);
              }
            });
            if (r.ranked.empty()) throw CheckFailed("no configuration fits in memory");
            return kExitOk;
          }};
}

}  // namespace clustersim::cli
