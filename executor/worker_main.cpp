// clustersim-worker: one rank of a measured run. Started by `clustersim run` / `validate` /
// `calibrate` under mpirun (or by a user's own mpirun on a cluster), every rank rebuilds the plan
// from the scenario (the same --set overrides give the same plan on every rank), takes its rank from
// MPI, runs its program with the CPU backend and MPI communicators (executor::run_rank) or, with
// --backend cuda, on its GPU with NCCL communicators (executor::run_rank_cuda), appends
// per-step records to the run directory as it goes, and rank 0 writes the gathered measured trace.
// With --calibrate it measures a calibration profile instead (executor::calibrate_cpu, collective
// over the ranks; calibrate_cuda with --backend cuda) and rank 0 writes it.
//
//   clustersim-worker SCENARIO [--set k=v]... --backend cpu|cuda --steps S --warmup W --run-dir DIR
//                     [--seed N] [--out TRACE] [--blas-threads T] [--sequential]
//   clustersim-worker --calibrate PROFILE [--backend cpu|cuda] [--quick] [--blas-threads T]
//                     [--for SCENARIO]... [--set k=v]... [--grid]
//
// Exit codes as the CLI's: 0 ok, 2 bad input, 3 a failed run. After an error on one rank the worker
// ends every rank (MPI_Abort), since the others would wait for it in a collective.
// Test hook: CLUSTERSIM_WORKER_TEST_KILL="R:S" makes rank R kill itself (SIGKILL) after step S, so
// the launcher's handling of a lost rank can be tested.
#include <unistd.h>
#if defined(__GLIBC__)
#include <malloc.h>
#endif

#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <limits>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <CLI/CLI.hpp>

#include "clustersim/executor/calibrate.hpp"
#include "clustersim/executor/communicator.hpp"
#include "clustersim/executor/cuda/backend.hpp"
#include "clustersim/executor/data.hpp"
#include "clustersim/executor/worker.hpp"
#include "clustersim/models/build.hpp"
#include "clustersim/models/scenario.hpp"
#include "clustersim/plan/error.hpp"
#include "clustersim/plan/json.hpp"
#include "clustersim/plan/profile.hpp"

namespace {

using namespace clustersim;

constexpr int kExitOk = 0, kExitBadInput = 2, kExitFailed = 3;

struct WorkerArgs {
  std::string scenario;
  std::vector<std::string> overrides;
  std::string backend = "cpu";
  std::int32_t steps = 0;   // 0: the scenario's training.steps
  std::int32_t warmup = -1;  // -1: 1 when more than one step, else 0
  std::string run_dir, out;
  std::int64_t seed = -1;  // -1: the scenario's simulation.seed
  int blas_threads = 0;    // 0: the host's cores shared among the ranks on it
  bool sequential = false;
  std::string calibrate;
  bool quick = false;
  std::vector<std::string> targets;  // --for: scenarios whose exact ops are calibrated
  bool grid = false;                 // with --for: also the shape and size grids
};

// A training process keeps the memory it frees for its next step (as a caching GPU allocator does).
// glibc would otherwise return freed blocks above its mmap/trim thresholds to the kernel and fault
// them in again on the next allocation, one page at a time, inside the ops (the tensors of a step,
// MPI's temporary reduction buffers): a cost of the host's virtual memory, not of the plan, which
// on virtual machines reaches tens of microseconds per page.
void keep_freed_memory() {
#if defined(__GLIBC__)
  mallopt(M_MMAP_THRESHOLD, 32 << 20);  // glibc's largest: blocks up to 32 MiB come from the heap
  mallopt(M_TRIM_THRESHOLD, std::numeric_limits<int>::max());
  mallopt(M_TOP_PAD, 64 << 20);
#endif
}

// Cores of this host divided among the ranks mpirun placed on it (OMPI_COMM_WORLD_LOCAL_SIZE).
int default_blas_threads() {
  const int cores = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  int local = 1;
  if (const char* s = std::getenv("OMPI_COMM_WORLD_LOCAL_SIZE")) local = std::max(1, std::atoi(s));
  return std::max(1, cores / local);
}


// "R:S" from CLUSTERSIM_WORKER_TEST_KILL, or {-1, -1}.
std::pair<int, int> test_kill() {
  const char* s = std::getenv("CLUSTERSIM_WORKER_TEST_KILL");
  if (s == nullptr) return {-1, -1};
  int rank = -1, step = -1;
  if (std::sscanf(s, "%d:%d", &rank, &step) != 2) return {-1, -1};
  return {rank, step};
}

// The grid of a full calibration: dense enough that the calibrated model interpolates between
// near neighbours for the shapes small CPU scenarios run (GEMM sides 32..1024, attention down to
// sequence 32 and head dimension 16, memory-bound ops and messages from 4 KiB to 64 MiB in factors
// of 4), since CPU throughput changes sharply at cache-size boundaries.
executor::CalibrationOptions full_grid() {
  executor::CalibrationOptions o;
  o.gemm_sizes = {32, 64, 128, 256, 512, 1024};
  o.attention_heads = 8;
  o.attention_seqs = {32, 64, 128, 256, 512};
  o.attention_head_dims = {16, 32, 64, 128};
  o.memory_bytes.clear();
  for (std::int64_t b = 1 << 12; b <= (1 << 26); b *= 4) o.memory_bytes.push_back(b);
  o.memory_dtypes = {DType::fp32, DType::bf16, DType::fp16};
  o.comm_bytes.clear();
  for (std::int64_t b = 1 << 12; b <= (1 << 24); b *= 4) o.comm_bytes.push_back(b);
  return o;
}

// For --backend cuda: this rank's host must have a usable device.
void require_cuda_device(int rank) {
  std::string why;
  if (!executor::cuda_available(&why))
    throw InputError("--backend", "\"cuda\"", "\"cpu\" on rank " + std::to_string(rank) + ": " + why);
}

int calibrate(const WorkerArgs& a, executor::CommunicatorFactory& comms) {
  const bool cuda = a.backend == "cuda";
  if (cuda) require_cuda_device(comms.world_rank());
  executor::CalibrationOptions o = a.quick ? executor::CalibrationOptions::quick()
                                   : cuda  ? executor::cuda_calibration_defaults()
                                           : full_grid();
  o.blas_threads = a.blas_threads;
  if (!a.targets.empty()) {
    if (cuda)
      throw InputError("--for", "\"" + a.targets.front() + "\" with --backend cuda",
                       "--backend cpu: targeted calibration measures the CPU executor's own ops");
    for (const auto& path : a.targets) {
      nlohmann::json j = models::load_scenario_json(path);
      for (const auto& ov : a.overrides) models::apply_override(j, ov);
      o.targets.push_back(models::build_plan(models::parse_scenario(j)));
    }
    o.grid = a.grid;
  }
  const bool tty = comms.world_rank() == 0 && isatty(2);
  std::string last_phase;
  o.progress = [&](const std::string& phase, double fraction) {
    if (tty) {
      std::fprintf(stderr, "\rcalibrating %-12s %3.0f%%", phase.c_str(), 100.0 * fraction);
      if (phase == "done") std::fprintf(stderr, "\n");
    } else if (phase != last_phase) {
      std::fprintf(stderr, "calibrating %s\n", phase.c_str());
    }
    last_phase = phase;
  };
  const plan::CalibrationProfile profile = cuda ? executor::calibrate_cuda(comms, o) : executor::calibrate_cpu(comms, o);
  if (comms.world_rank() == 0) plan::write_json_file(a.calibrate, plan::to_json(profile), 1);
  return kExitOk;
}

int run(const WorkerArgs& a, executor::CommunicatorFactory& comms) {
  nlohmann::json j = models::load_scenario_json(a.scenario);
  for (const auto& o : a.overrides) models::apply_override(j, o);
  const models::Scenario sc = models::parse_scenario(j);
  const plan::Plan plan = models::build_plan(sc);
  const plan::Hardware hw = models::hardware_of(sc);
  const int rank = comms.world_rank();
  if (comms.world_size() != plan.world_size)
    throw InputError("mpirun -n", std::to_string(comms.world_size()),
                     std::to_string(plan.world_size) + " ranks: the scenario " + a.scenario + " needs dp " +
                         std::to_string(plan.meta.dp) + " x tp " + std::to_string(plan.meta.tp) + " x pp " +
                         std::to_string(plan.meta.pp) + " = " + std::to_string(plan.world_size));

  executor::RunOptions o;
  o.steps = a.steps > 0 ? a.steps : static_cast<std::int32_t>(sc.training.steps);
  o.warmup_steps = a.warmup >= 0 ? a.warmup : (o.steps > 1 ? 1 : 0);
  if (o.warmup_steps >= o.steps)
    throw InputError("--warmup", std::to_string(o.warmup_steps),
                     "fewer warm-up steps than steps (" + std::to_string(o.steps) + ")");
  if (a.seed >= 0) o.seed = a.seed;
  if (sc.training.data != "synthetic") o.data = executor::make_text_file_data(sc.training.data);
  o.threading =
      a.sequential ? executor::StreamThreading::sequential : executor::StreamThreading::thread_per_stream;
  o.blas_threads = a.blas_threads;
  o.run_dir = a.run_dir;
  o.record_fatal_signals = !a.run_dir.empty();
  const auto peak = hw.gpu.peak_tflops.find(compute_dtype(plan.meta.precision));
  o.peak_flops_per_rank = peak == hw.gpu.peak_tflops.end() ? 0.0 : peak->second * 1e12;
  o.capacity_bytes = hw.usable_memory_bytes();
  o.scenario = plan.meta.scenario;
  o.hardware = hw.name;
  o.log = [rank](const std::string& s) { std::fprintf(stderr, "rank %d: %s\n", rank, s.c_str()); };
  const auto [kill_rank, kill_after] = test_kill();
  const std::int32_t every = std::max<std::int32_t>(1, o.steps / 50);
  o.on_step = [&, kill_rank = kill_rank, kill_after = kill_after](const executor::StepReport& r) {
    if (rank == 0 && (r.step % every == 0 || r.step + 1 == o.steps)) {
      std::printf("step %d/%d  loss %.4f  %.1f ms%s%s\n", r.step + 1, o.steps, r.loss, r.duration_ns * 1e-6,
                  r.warmup ? "  (warm-up)" : "", r.skipped ? "  (skipped: non-finite gradient)" : "");
      std::fflush(stdout);
    }
    if (r.rank == kill_rank && r.step == kill_after) std::raise(SIGKILL);
  };
  const bool cuda = a.backend == "cuda";
  o.machine_probe = !cuda;
  if (cuda) {
    require_cuda_device(rank);
    executor::check_cuda_kernels(plan);
  }
  const executor::RunResult result = cuda ? executor::run_rank_cuda(plan, comms, o) : executor::run_rank(plan, comms, o);
  if (result.trace && !a.out.empty()) plan::write_json_file(a.out, plan::to_json(*result.trace), 1);
  return kExitOk;
}

}  // namespace

int main(int argc, char** argv) {
  WorkerArgs a;
  CLI::App app{"clustersim-worker: one rank of a measured run (start it under mpirun; `clustersim run` does)"};
  app.add_option("scenario", a.scenario, "Scenario JSON file");
  app.add_option("--set", a.overrides, "Override a scenario field: path=value (repeatable)");
  app.add_option("--backend", a.backend, "Executor backend: cpu (OpenBLAS + MPI) or cuda (cuBLASLt + NCCL)")
      ->check(CLI::IsMember({"cpu", "cuda"}));
  app.add_option("--steps", a.steps, "Steps to run, warm-up included (default: the scenario's training.steps)")
      ->check(CLI::Range(1, 1000000000));
  app.add_option("--warmup", a.warmup, "Warm-up steps left out of the timing summary (default 1)")
      ->check(CLI::NonNegativeNumber);
  app.add_option("--run-dir", a.run_dir, "Directory for the per-rank step records (survive a crash)");
  app.add_option("--seed", a.seed, "Seed of initialisation, data and dropout (default: the scenario's)")
      ->check(CLI::NonNegativeNumber);
  app.add_option("--out", a.out, "Measured trace file, written by rank 0");
  app.add_option("--blas-threads", a.blas_threads, "OpenBLAS threads per rank (default: cores / ranks on the host)")
      ->check(CLI::PositiveNumber);
  app.add_flag("--sequential", a.sequential, "Run each rank's streams on one thread, in program order");
  app.add_option("--calibrate", a.calibrate, "Measure a calibration profile into this file instead of running");
  app.add_flag("--quick", a.quick, "With --calibrate: a small grid (seconds)");
  app.add_option("--for", a.targets,
                 "With --calibrate: measure this scenario's exact ops, collectives and transfers (repeatable)");
  app.add_flag("--grid", a.grid, "With --calibrate --for: also measure the shape and size grids");
  try {
    app.parse(argc, argv);
    if (a.calibrate.empty() && a.scenario.empty()) throw CLI::RequiredError("scenario");
  } catch (const CLI::ParseError& e) {
    const int code = app.exit(e);
    return code == 0 ? kExitOk : kExitBadInput;
  }
  if (a.blas_threads <= 0) a.blas_threads = default_blas_threads();
  keep_freed_memory();

  std::unique_ptr<executor::MpiSession> session;
  int code = kExitOk;
  try {
    session = std::make_unique<executor::MpiSession>();
    auto comms = executor::make_mpi_communicators();
    code = a.calibrate.empty() ? run(a, *comms) : calibrate(a, *comms);
  } catch (const InputError& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    code = kExitBadInput;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    code = kExitFailed;
  }
  std::fflush(stdout);
  std::fflush(stderr);
  if (code != kExitOk && session && session->size() > 1) executor::MpiSession::abort(code);
  return code;
}
