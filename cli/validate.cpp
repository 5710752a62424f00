// `clustersim validate SCENARIO --backend cpu|cuda`: predicts the scenario with the `calibrated` cost
// model and a profile from `clustersim calibrate` (roofline, with a warning, when there is none),
// runs the same plan with the executor (launcher.hpp), compares the two traces op class by op class
// (reports::compare: step time, peak memory, communication per group), prints or writes the
// comparison, and exits 1 when a check is beyond its tolerance.
#include <cmath>
#include <filesystem>
#include <iostream>

#include <fmt/format.h>

#include "clustersim/engine/simulate.hpp"
#include "clustersim/models/build.hpp"
#include "clustersim/plan/error.hpp"
#include "clustersim/plan/json.hpp"
#include "clustersim/plan/profile.hpp"
#include "clustersim/reports/compare.hpp"
#include "commands.hpp"
#include "common.hpp"
#include "launcher.hpp"

namespace clustersim::cli {

namespace {
struct ValidateArgs {
  std::string scenario;
  std::vector<std::string> overrides;
  std::string backend = "cpu";
  std::string profile;
  double tolerance = 0.10, memory_tolerance = 0.05, comm_tolerance = 0.15, machine_tolerance = 0.25;
  std::int32_t attempts = 1;
  std::int32_t steps = 12, warmup = 2;
  std::int64_t seed = -1;
  std::string format = "table";
  std::string report, predicted_out, measured_out, run_dir, hostfile;
  bool calibrate = false;
};

// The format of a --report file: by its extension, else the --format.
std::string report_format(const std::string& path, const std::string& fallback) {
  const std::string ext = std::filesystem::path(path).extension().string();
  if (ext == ".md") return "markdown";
  if (ext == ".json") return "json";
  return fallback;
}
}  // namespace

CommandEntry add_validate(CLI::App& app) {
  auto args = std::make_shared<ValidateArgs>();
  CLI::App* cmd = app.add_subcommand("validate", "Predict a scenario, run it for real with the executor, and compare "
                                                 "op class by op class; exit 1 beyond tolerance");
  cmd->add_option("scenario", args->scenario, "Scenario JSON file")->required();
  cmd->add_option("--set", args->overrides, "Override a scenario field: path=value (repeatable)");
  cmd->add_option("--backend", args->backend, "Executor backend: cpu (OpenBLAS + MPI) or cuda (cuBLASLt + NCCL)")
      ->check(CLI::IsMember({"cpu", "cuda"}))
      ->default_val("cpu");
  cmd->add_option("--profile", args->profile,
                  "Calibration profile from `clustersim calibrate` (default: the scenario's simulation.profile; "
                  "roofline when there is none)");
  cmd->add_option("--tolerance", args->tolerance, "Relative step-time tolerance")
      ->check(CLI::NonNegativeNumber)
      ->default_val(0.10);
  cmd->add_option("--memory-tolerance", args->memory_tolerance, "Relative peak-memory tolerance (worst rank)")
      ->check(CLI::NonNegativeNumber)
      ->default_val(0.05);
  cmd->add_option("--comm-tolerance", args->comm_tolerance, "Relative communication-time tolerance per group")
      ->check(CLI::NonNegativeNumber)
      ->default_val(0.15);
  cmd->add_option("--machine-tolerance", args->machine_tolerance,
                  "Largest relative change of the machine probe (an all-reduce and a GEMM, timed by the calibration "
                  "and again before and after the run) for the comparison to count")
      ->check(CLI::NonNegativeNumber)
      ->default_val(0.25);
  cmd->add_option("--attempts", args->attempts,
                  "Calibrate (with --calibrate) and run up to this many times while the machine probe says the "
                  "machine changed between calibration and run; every attempt is reported")
      ->check(CLI::Range(1, 100))
      ->default_val(1);
  cmd->add_option("--steps", args->steps, "Measured steps, warm-up included")
      ->check(CLI::Range(2, 1000000))
      ->default_val(12);
  cmd->add_option("--warmup", args->warmup, "Leading steps left out of the measurement")
      ->check(CLI::NonNegativeNumber)
      ->default_val(2);
  cmd->add_flag("--calibrate", args->calibrate,
                "First measure this scenario's own ops, collectives and host overheads, each alone (a targeted "
                "`clustersim calibrate --for`, seconds), on the machine as it is now, and predict with them; "
                "with --profile the profile is written there");
  cmd->add_option("--seed", args->seed, "Seed of the run (default: the scenario's)")->check(CLI::NonNegativeNumber);
  cmd->add_option("--hostfile", args->hostfile, "Open MPI hostfile")->check(CLI::ExistingFile);
  cmd->add_option("--format", args->format, "Output format: table, json or markdown")
      ->check(CLI::IsMember(reports::comparison_format_names()))
      ->default_val("table");
  cmd->add_option("--report", args->report,
                  "Also write the comparison to a file (.md: markdown, .json: JSON, else --format)");
  cmd->add_option("--predicted-trace", args->predicted_out, "Write the predicted trace");
  cmd->add_option("--measured-trace", args->measured_out, "Write the measured trace");
  cmd->add_option("--run-dir", args->run_dir, "Keep the run's per-rank step records in this directory");
  return {cmd, [args]() {
    LoadedScenario loaded = load_scenario(args->scenario, args->overrides);
    if (args->warmup >= args->steps)
      throw InputError("--warmup", std::to_string(args->warmup),
                       "fewer warm-up steps than --steps (" + std::to_string(args->steps) + ")");
    const plan::Plan plan = models::build_plan(loaded.scenario);

    std::string profile_dir;
    struct RemoveDir {
      std::string& dir;
      ~RemoveDir() {
        std::error_code ec;
        if (!dir.empty()) std::filesystem::remove_all(dir, ec);
      }
    } remove_profile_dir{profile_dir};
    // The machine probe of the calibration against the run's: a machine that changed in between
    // (another tenant, a scheduler moving the ranks) makes the comparison say nothing about the
    // model, so the pair is made again, up to --attempts times.
    reports::Comparison c;
    for (std::int32_t attempt = 1;; ++attempt) {
      // Targeted calibration, just before the run (into a temporary directory without --profile).
      if (args->calibrate) {
        if (args->backend != "cpu") throw InputError("--calibrate", "with --backend " + args->backend, "--backend cpu");
        CalibrationRequest creq;
        const std::string temp_dir = args->profile.empty() ? make_temp_dir() : "";
        creq.out = args->profile.empty() ? temp_dir + "/profile.json" : std::filesystem::absolute(args->profile).string();
        creq.targets = {args->scenario};
        creq.overrides = args->overrides;
        creq.mpi.ranks = std::max(2, plan.world_size);
        creq.mpi.hostfile = args->hostfile;
        std::cerr << "calibrating this scenario's ops, collectives and host overheads\n";
        run_calibration(creq);
        args->profile = creq.out;
        if (!temp_dir.empty()) profile_dir = temp_dir;
      }

      // Prediction.
      engine::SimulationOptions sim = simulation_options(loaded.scenario);
      if (!args->profile.empty()) {
        sim.profile = std::make_shared<const plan::CalibrationProfile>(plan::read_profile_file(args->profile));
        sim.cost_model = "calibrated";
        if (sim.profile->backend != args->backend)
          throw InputError("--profile", "\"" + args->profile + "\" (backend \"" + sim.profile->backend + "\")",
                           "a profile measured with --backend " + args->backend + " (clustersim calibrate --backend " +
                               args->backend + ")");
      } else if (sim.cost_model != "calibrated" || !sim.profile) {
        std::cerr << "warning: no calibration profile (--profile): predicting with the roofline cost model and the "
                     "scenario's nominal rates; run `clustersim calibrate` for a faithful prediction\n";
        sim.cost_model = "roofline";
        sim.profile.reset();
      }
      sim.keep_noise_comm = true;  // the transfer's median over the noise samples, as the run's over steps
      const plan::Trace predicted = engine::simulate(plan, models::hardware_of(loaded.scenario), sim);
      if (!args->predicted_out.empty())
        write_text_file(args->predicted_out, [&](std::ostream& os) { os << plan::to_json(predicted).dump() << '\n'; });

      // Measurement.
      MeasuredRunRequest req;
      req.scenario_path = args->scenario;
      req.overrides = args->overrides;
      req.steps = args->steps;
      req.warmup = args->warmup;
      req.seed = args->seed;
      req.backend = args->backend;
      req.run_dir = args->run_dir;
      req.trace_out = args->measured_out;
      req.mpi.ranks = plan.world_size;
      req.mpi.hostfile = args->hostfile;
      const MeasuredRun run = run_measured(req, loaded.scenario, plan);
      if (!run.complete) throw Error(run.failure + "; the per-rank records are in " + run.run_dir);

      // Comparison. The measured trace's spans already leave the warm-up steps out.
      reports::CompareOptions copt;
      copt.warmup_steps = 0;
      copt.step_time_tolerance = args->tolerance;
      copt.memory_tolerance = args->memory_tolerance;
      copt.comm_tolerance = args->comm_tolerance;
      copt.machine_tolerance = args->machine_tolerance;
      if (sim.profile) copt.calibration_probe = sim.profile->probe;
      c = reports::compare(predicted, run.trace, copt);
      const auto changed = std::find_if(c.checks.begin(), c.checks.end(), [](const reports::Check& k) {
        return !k.passed && k.name.rfind("machine:", 0) == 0;
      });
      if (changed == c.checks.end() || attempt >= args->attempts) break;
      std::cerr << fmt::format("attempt {} of {}: the machine changed between calibration and run ({} {:.0f} us -> "
                               "{:.0f} us); again\n",
                               attempt, args->attempts, changed->name, changed->predicted * 1e6,
                               changed->measured * 1e6);
    }
    reports::write_comparison(args->format, c, std::cout);
    if (!args->report.empty())
      write_text_file(args->report, [&](std::ostream& os) {
        reports::write_comparison(report_format(args->report, args->format), c, os);
      });
    if (!c.passed) {
      std::string failed;
      for (const auto& k : c.checks)
        if (!k.passed)
          failed += (failed.empty() ? "" : ", ") + k.name + " " +
                    (std::isfinite(k.error) ? fmt::format("{:+.1f}%", k.error * 100.0) : std::string("n/a")) +
                    fmt::format(" (tolerance {:g}%)", k.tolerance * 100.0);
      const bool machine_changed = std::any_of(c.checks.begin(), c.checks.end(), [](const reports::Check& k) {
        return !k.passed && k.name.rfind("machine:", 0) == 0;
      });
      if (machine_changed)
        throw CheckFailed("the machine changed between calibration and run (" + failed +
                          "): the other checks do not say whether the model holds; validate on a quieter machine, "
                          "or with --attempts N");
      throw CheckFailed("the prediction is beyond tolerance: " + failed);
    }
    return kExitOk;
  }};
}

}  // namespace clustersim::cli
