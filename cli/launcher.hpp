// Launching measured runs: how `clustersim run`, `validate` and `calibrate` start the executor.
// They build an mpirun command line around `clustersim-worker` (one process per rank), run it with
// the terminal's output passed through, and read back what the ranks wrote: the measured trace
// gathered by rank 0, or, when a rank crashed or was killed, the partial trace assembled from the
// run directory's per-rank records (executor::assemble_trace_from_run_dir), with the ranks that did
// not finish named.
//
// Finding the programs:
//  * mpirun: $CLUSTERSIM_MPIEXEC, else the mpirun found when clustersim was configured, else
//    `mpirun` / `mpiexec` on PATH.
//  * the worker: $CLUSTERSIM_WORKER, else `clustersim-worker` beside the running clustersim, else
//    the one this build produced.
// Flags added to mpirun, each said once on stderr: --allow-run-as-root when running as root,
// --oversubscribe when more ranks than this host's cores are started without a hostfile.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "clustersim/models/scenario.hpp"
#include "clustersim/plan/plan.hpp"
#include "clustersim/plan/profile.hpp"
#include "clustersim/plan/trace.hpp"

namespace clustersim::cli {

// How to start the ranks.
struct MpiOptions {
  std::int32_t ranks = 1;
  std::string hostfile;                 // "" = this host only
  std::function<void(const std::string&)> note;  // the one line naming the flags added (stderr by default)
};

// The executor backends a measured run can use: "cpu" everywhere, "cuda" when this build has the CUDA
// backend. Throws InputError naming --backend otherwise. (Whether a rank's host has a device is the
// worker's check: clustersim itself may run on a host without one.)
void check_backend(const std::string& backend);

// A new private directory under the system's temporary directory; Error when it cannot be made.
std::string make_temp_dir();

// Path of mpirun (see above); Error when none is found.
std::string find_mpiexec();
// Path of clustersim-worker (see above); Error when none is found.
std::string find_worker();

// The full command line: mpirun [added flags] -n N [--hostfile F] WORKER ARGS...
std::vector<std::string> mpi_command(const MpiOptions& mpi, const std::vector<std::string>& worker_args);

// Runs a command with this process's stdin/stdout/stderr and waits for it. Returns its exit status,
// or 128 + the signal that ended it. SIGINT/SIGTERM reach the child (mpirun ends its ranks) while
// this process survives them to report what was measured.
int run_process(const std::vector<std::string>& argv);

// One calibration (`clustersim calibrate`, `validate --calibrate`): the worker's --calibrate.
struct CalibrationRequest {
  std::string out;  // the profile file the worker writes
  std::string backend = "cpu";
  bool quick = false;
  std::vector<std::string> targets;    // --for scenarios (targeted calibration)
  std::vector<std::string> overrides;  // --set, applied to the targets
  bool grid = false;                   // with targets: the grids too
  MpiOptions mpi;
};

// Runs the calibration under mpirun and reads back the profile. InputError when the worker refused
// its options (exit 2), Error when it failed.
plan::CalibrationProfile run_calibration(const CalibrationRequest& request);

// One measured run of a scenario.
struct MeasuredRunRequest {
  std::string scenario_path;
  std::vector<std::string> overrides;
  std::int32_t steps = 0;   // total, warm-up included
  std::int32_t warmup = 0;  // warm-up steps
  std::int64_t seed = -1;   // -1: the scenario's
  std::string run_dir;      // "" = a temporary directory, removed after a complete run
  std::string trace_out;    // where the worker writes the gathered trace ("" = inside the run dir)
  std::string backend = "cpu";  // "cpu" or "cuda" (check_backend)
  MpiOptions mpi;
};

struct MeasuredRun {
  plan::Trace trace;  // complete, or partial (trace.extra.partial) when a rank did not finish
  bool complete = false;
  int exit_code = 0;     // mpirun's
  std::string failure;   // "" when complete: which rank stopped where and why
  std::string run_dir;   // the run directory (kept when the run failed or was named)
};

// Runs the plan of `scenario` (the same scenario and overrides the workers rebuild it from) under
// mpirun and returns its measured trace. Throws InputError when the worker refused its input (exit
// 2) with no step measured; a failed run otherwise returns with complete = false.
MeasuredRun run_measured(const MeasuredRunRequest& request, const models::Scenario& scenario, const plan::Plan& plan);

}  // namespace clustersim::cli
