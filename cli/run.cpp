// `clustersim run SCENARIO --backend cpu|cuda`: trains the scenario's plan for real, one MPI process per
// rank (launcher.hpp), prints a short summary (steps, mean step time, loss first -> last, peak
// memory) and writes the measured trace. When a rank crashes or is killed, the trace of the steps
// every rank finished is still written and the error names the rank.
#include <cmath>
#include <filesystem>
#include <iostream>

#include <fmt/format.h>

#include "clustersim/models/build.hpp"
#include "clustersim/plan/error.hpp"
#include "clustersim/plan/json.hpp"
#include "commands.hpp"
#include "common.hpp"
#include "launcher.hpp"

namespace clustersim::cli {

namespace {
struct RunArgs {
  std::string scenario;
  std::vector<std::string> overrides;
  std::string backend = "cpu";
  std::int32_t ranks = 0;  // 0: the plan's world size
  std::string hostfile;
  std::int32_t steps = 0;   // 0: the scenario's training.steps
  std::int32_t warmup = -1;  // -1: 1 when more than one step
  std::int64_t seed = -1;
  std::string out, run_dir;
};

std::string mib(std::int64_t bytes) {
  return fmt::format("{:.2f} MiB", static_cast<double>(bytes) / (1024.0 * 1024.0));
}

void print_run_summary(const plan::Trace& t, std::int32_t warmup, std::ostream& os) {
  const auto& s = t.summary;
  os << fmt::format("steps           {} ({} warm-up)\n", s.steps, std::min<std::int64_t>(warmup, s.steps));
  os << fmt::format("mean step time  {:.2f} ms\n", s.step_time_s * 1e3);
  if (!s.losses.empty() && std::isfinite(s.losses.front()))
    os << fmt::format("loss            {:.4f} -> {:.4f}\n", s.losses.front(), s.losses.back());
  os << fmt::format("peak memory     {} per rank (tensors; {} bytes)\n", mib(s.peak_memory_bytes),
                    s.peak_memory_bytes);
}
}  // namespace

CommandEntry add_run(CLI::App& app) {
  auto args = std::make_shared<RunArgs>();
  CLI::App* cmd = app.add_subcommand("run", "Train a scenario for real with the executor, one MPI process per rank, "
                                            "and write the measured trace");
  cmd->add_option("scenario", args->scenario, "Scenario JSON file")->required();
  cmd->add_option("--set", args->overrides, "Override a scenario field: path=value (repeatable)");
  cmd->add_option("--backend", args->backend, "Executor backend: cpu (OpenBLAS + MPI) or cuda (cuBLASLt + NCCL)")
      ->check(CLI::IsMember({"cpu", "cuda"}))
      ->default_val("cpu");
  cmd->add_option("--np", args->ranks, "MPI processes (default: the plan's world size, dp x tp x pp)")
      ->check(CLI::PositiveNumber);
  cmd->add_option("--hostfile", args->hostfile, "Open MPI hostfile for a run over several hosts")
      ->check(CLI::ExistingFile);
  cmd->add_option("--steps", args->steps, "Steps to run, warm-up included (default: the scenario's training.steps)")
      ->check(CLI::Range(1, 1000000000));
  cmd->add_option("--warmup", args->warmup, "Warm-up steps left out of the timing summary (default 1)")
      ->check(CLI::NonNegativeNumber);
  cmd->add_option("--seed", args->seed, "Seed of initialisation, data and dropout (default: the scenario's)")
      ->check(CLI::NonNegativeNumber);
  cmd->add_option("-o,--out", args->out, "Measured trace file (default: <scenario name>.measured.json)");
  cmd->add_option("--run-dir", args->run_dir, "Keep the per-rank step records in this directory");
  return {cmd, [args]() {
    const LoadedScenario loaded = load_scenario(args->scenario, args->overrides);
    const plan::Plan plan = models::build_plan(loaded.scenario);
    const std::int32_t ranks = args->ranks > 0 ? args->ranks : plan.world_size;
    if (ranks != plan.world_size)
      throw InputError("--np", std::to_string(ranks),
                       std::to_string(plan.world_size) + ", the ranks of " + args->scenario + " (dp " +
                           std::to_string(plan.meta.dp) + " x tp " + std::to_string(plan.meta.tp) + " x pp " +
                           std::to_string(plan.meta.pp) + ")");
    MeasuredRunRequest req;
    req.scenario_path = args->scenario;
    req.overrides = args->overrides;
    req.steps = args->steps > 0 ? args->steps : static_cast<std::int32_t>(loaded.scenario.training.steps);
    req.warmup = args->warmup >= 0 ? args->warmup : (req.steps > 1 ? 1 : 0);
    if (req.warmup >= req.steps)
      throw InputError("--warmup", std::to_string(req.warmup),
                       "fewer warm-up steps than steps (" + std::to_string(req.steps) + ")");
    req.seed = args->seed;
    req.backend = args->backend;
    req.run_dir = args->run_dir;
    req.trace_out = args->out.empty() ? loaded.scenario.name + ".measured.json" : args->out;
    req.mpi.ranks = ranks;
    req.mpi.hostfile = args->hostfile;
    const MeasuredRun run = run_measured(req, loaded.scenario, plan);
    if (!run.complete) {
      write_text_file(req.trace_out, [&](std::ostream& os) { os << plan::to_json(run.trace).dump(1) << '\n'; });
      throw Error(run.failure + "; the trace of the " + std::to_string(run.trace.summary.steps) +
                  " step(s) every rank finished is in " + req.trace_out + ", the per-rank records in " + run.run_dir);
    }
    std::cout << fmt::format("{} on {} rank(s), {} backend\n", loaded.scenario.name, ranks, args->backend);
    print_run_summary(run.trace, req.warmup, std::cout);
    std::cout << "trace           " << req.trace_out << '\n';
    return kExitOk;
  }};
}

}  // namespace clustersim::cli
