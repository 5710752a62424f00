// `clustersim calibrate --backend cpu|cuda --out PROFILE.json`: measures this machine's op times with
// the executor's own kernels (executor::calibrate_cpu, or calibrate_cuda: cuBLASLt, the CUDA kernels, NCCL) under mpirun, so collectives are timed
// between real ranks and compute samples run on every rank at once as in a run, then writes the
// profile the `calibrated` cost model reads and prints what it holds.
#include <algorithm>
#include <filesystem>
#include <iostream>

#include <fmt/format.h>

#include "clustersim/models/build.hpp"
#include "clustersim/plan/error.hpp"
#include "clustersim/plan/profile.hpp"
#include "commands.hpp"
#include "common.hpp"
#include "launcher.hpp"

namespace clustersim::cli {

namespace {
struct CalibrateArgs {
  std::string backend = "cpu";
  std::string out;
  std::int32_t ranks = 2;
  std::string hostfile;
  bool quick = false;
  std::vector<std::string> targets, overrides;
  bool grid = false;
};

void print_profile(const plan::CalibrationProfile& p, const std::string& path, std::ostream& os) {
  os << fmt::format("profile         {}\n", path);
  os << fmt::format("device          {}\n", p.device);
  std::size_t memory = 0;
  for (const auto& [key, samples] : p.memory) memory += samples.size();
  os << fmt::format("samples         {} gemm, {} attention, {} memory-bound ({} kinds), {} collective, {} p2p\n",
                    p.gemm.size(), p.attention.size(), memory, p.memory.size(), p.collectives.size(), p.p2p.size());
  double best_gflops = 0.0;
  for (const auto& g : p.gemm)
    best_gflops = std::max(best_gflops, 2.0 * static_cast<double>(g.m * g.n * g.k) / g.time_ns);
  if (best_gflops > 0.0) os << fmt::format("best gemm       {:.1f} GFLOP/s per rank\n", best_gflops);
  os << fmt::format("op overhead     {:.0f} ns\n", p.kernel_overhead_ns);
  os << fmt::format("overlap         compute x{:.2f} while communicating\n", p.overlap_compute_slowdown);
  if (p.overlap_comm_busy_delay_ns > 0.0)
    os << fmt::format("busy core       a send or recv ending during a kernel completes {:.2f} ms later\n",
                      p.overlap_comm_busy_delay_ns * 1e-6);
  if (!p.ops.empty()) os << fmt::format("exact ops       {} (targeted calibration)\n", p.ops.size());
  if (p.host.dispatch_ns > 0.0 || p.host.wake_ns > 0.0)
    os << fmt::format("host            {:.1f} us between ops on a stream, +{:.1f} us when woken by another stream\n",
                      p.host.dispatch_ns * 1e-3, p.host.wake_ns * 1e-3);
  if (!p.p2p.empty()) {
    const auto [lo, hi] = std::minmax_element(p.p2p.begin(), p.p2p.end(),
                                              [](const auto& a, const auto& b) { return a.bytes < b.bytes; });
    os << fmt::format("p2p             {:.1f} us for {} B, {:.2f} GB/s at {} B\n", lo->time_ns * 1e-3, lo->bytes,
                      static_cast<double>(hi->bytes) / hi->time_ns, hi->bytes);
  }
}
}  // namespace

CommandEntry add_calibrate(CLI::App& app) {
  auto args = std::make_shared<CalibrateArgs>();
  CLI::App* cmd = app.add_subcommand("calibrate", "Measure this machine's op, collective and overlap times with the "
                                                  "executor and write a profile for the calibrated cost model");
  cmd->add_option("--backend", args->backend, "Executor backend: cpu (OpenBLAS + MPI) or cuda (cuBLASLt + NCCL)")
      ->check(CLI::IsMember({"cpu", "cuda"}))
      ->default_val("cpu");
  cmd->add_option("-o,--out", args->out, "Profile file to write (clustersim.profile/1 JSON)")->required();
  CLI::Option* np_option = cmd->add_option("--np", args->ranks, "MPI processes; collectives and p2p need at least 2 (default 2)")
      ->check(CLI::PositiveNumber)
      ->default_val(2);
  cmd->add_option("--hostfile", args->hostfile, "Open MPI hostfile (to time collectives between hosts)")
      ->check(CLI::ExistingFile);
  cmd->add_flag("--quick", args->quick, "A small grid (seconds): for smoke tests, not for accurate predictions");
  cmd->add_option("--for", args->targets,
                  "Targeted calibration: measure each distinct op, collective and transfer of this scenario's plan "
                  "exactly, alone (repeatable; seconds instead of minutes; predictions of other scenarios then "
                  "fall back to the roofline)")
      ->check(CLI::ExistingFile);
  cmd->add_option("--set", args->overrides, "With --for: override a field of the scenarios (path=value, repeatable)");
  cmd->add_flag("--grid", args->grid, "With --for: also measure the full shape and size grids");
  return {cmd, [args, np_option]() {
    const std::filesystem::path out = std::filesystem::absolute(args->out);
    std::error_code ec;
    if (out.has_parent_path()) std::filesystem::create_directories(out.parent_path(), ec);
    if (ec || std::filesystem::is_directory(out))
      throw InputError("--out", "\"" + args->out + "\"", "a file path whose directory can be created");
    if (args->ranks < 2)
      std::cerr << "warning: with --np 1 the profile has no collective or p2p times (predictions use the "
                   "scenario's links for communication)\n";
    CalibrationRequest req;
    req.out = out.string();
    req.backend = args->backend;
    req.quick = args->quick;
    req.targets = args->targets;
    req.overrides = args->overrides;
    req.grid = args->grid;
    req.mpi.ranks = args->ranks;
    req.mpi.hostfile = args->hostfile;
    if (!args->targets.empty()) {
      if (args->backend != "cpu") throw InputError("--for", "with --backend " + args->backend, "--backend cpu");
      // As many ranks as the largest target runs with, unless --np says otherwise: the ops are then
      // timed with the host's cores shared as in the run, and every group size can be measured.
      if (np_option->count() == 0) {
        req.mpi.ranks = 2;
        for (const auto& t : args->targets)
          req.mpi.ranks = std::max(req.mpi.ranks, models::build_plan(load_scenario(t, args->overrides).scenario).world_size);
      }
    }
    const plan::CalibrationProfile profile = run_calibration(req);
    print_profile(profile, args->out, std::cout);
    return kExitOk;
  }};
}

}  // namespace clustersim::cli
