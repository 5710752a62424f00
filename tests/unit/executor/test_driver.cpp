// Test driver for the executor: runs a hand-built MLP classifier plan (data-parallel over however
// many ranks mpirun starts, one gradient bucket all-reduced on a comm stream) and prints the loss
// per step, so the loss can be seen falling. Used by the MPI launcher tests, which can ask a rank to
// kill itself after a step to check how a failed run is reported.
//   executor_test_driver [--steps N] [--run-dir DIR] [--trace FILE] [--kill-rank R --kill-after S]
//                        [--sequential] [--no-mpi]
//   executor_test_driver --calibrate FILE [--quick] [--no-mpi]   (writes a calibration profile)
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "clustersim/executor/calibrate.hpp"
#include "clustersim/executor/communicator.hpp"
#include "clustersim/executor/worker.hpp"
#include "clustersim/plan/json.hpp"
#include "clustersim/plan/profile.hpp"
#include "test_plans.hpp"

using namespace clustersim;
using namespace clustersim::executor;

int main(int argc, char** argv) {
  int steps = 8, kill_rank = -1, kill_after = -1;
  bool use_mpi = true, sequential = false;
  std::string run_dir, trace_file, profile_file;
  bool quick = false;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto next = [&]() -> std::string { return i + 1 < argc ? argv[++i] : ""; };
    if (a == "--steps")
      steps = std::atoi(next().c_str());
    else if (a == "--run-dir")
      run_dir = next();
    else if (a == "--trace")
      trace_file = next();
    else if (a == "--kill-rank")
      kill_rank = std::atoi(next().c_str());
    else if (a == "--kill-after")
      kill_after = std::atoi(next().c_str());
    else if (a == "--sequential")
      sequential = true;
    else if (a == "--no-mpi")
      use_mpi = false;
    else if (a == "--calibrate")
      profile_file = next();
    else if (a == "--quick")
      quick = true;
    else {
      std::fprintf(stderr, "unknown argument %s\n", a.c_str());
      return 2;
    }
  }
  std::unique_ptr<MpiSession> session;
  try {
    std::unique_ptr<CommunicatorFactory> comms;
    if (use_mpi) {
      session = std::make_unique<MpiSession>();
      comms = make_mpi_communicators();
    } else {
      comms = make_local_communicators();
    }
    if (!profile_file.empty()) {
      CalibrationOptions co = quick ? CalibrationOptions::quick() : CalibrationOptions{};
      co.progress = [](const std::string& phase, double f) {
        std::fprintf(stderr, "\r%-12s %3.0f%%", phase.c_str(), 100 * f);
      };
      const plan::CalibrationProfile p = calibrate_cpu(*comms, co);
      std::fprintf(stderr, "\n");
      if (comms->world_rank() == 0) plan::write_json_file(profile_file, plan::to_json(p), 1);
      return 0;
    }
    test::MlpConfig c;
    c.dp = comms->world_size();
    c.comm_stream = true;
    const auto mlp = test::make_mlp_plan(c);
    RunOptions o;
    o.steps = steps;
    o.warmup_steps = 1;
    o.run_dir = run_dir;
    o.record_fatal_signals = !run_dir.empty();
    o.threading = sequential ? StreamThreading::sequential : StreamThreading::thread_per_stream;
    const int rank = comms->world_rank();
    o.on_step = [&](const StepReport& r) {
      if (rank == 0) std::printf("step %d loss %.6f%s\n", r.step, r.loss, r.skipped ? " (skipped)" : "");
      std::fflush(stdout);
      if (r.rank == kill_rank && r.step == kill_after) std::raise(SIGKILL);
    };
    const RunResult result = run_rank(mlp.plan, *comms, o);
    if (result.trace && !trace_file.empty()) plan::write_json_file(trace_file, plan::to_json(*result.trace), 1);
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    if (session) MpiSession::abort(3);
    return 3;
  }
}
