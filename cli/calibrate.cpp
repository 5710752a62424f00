// `clustersim calibrate --backend cpu|cuda --out PROFILE.json`: measures this machine's op times with
// the executor's own kernels (executor::calibrate_cpu, or calibrate_cuda: cuBLASLt, the CUDA kernels, NCCL) under mpirun, so collectives are timed
// between real ranks and compute samples run on every rank at once as in a run, then writes the
// profile the `calibrated` cost model reads and prints what it holds.
#include <algorithm>
#include <filesystem>
#include <iostream>

#include <fmt/format.h>

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
  cmd->add_option("--np", args->ranks, "MPI processes; collectives and p2p need at least 2 (default 2)")
      ->check(CLI::PositiveNumber)
      ->default_val(2);
  cmd->add_option("--hostfile", args->hostfile, "Open MPI hostfile (to time collectives between hosts)")
      ->check(CLI::ExistingFile);
  cmd->add_flag("--quick", args->quick, "A small grid (seconds): for smoke tests, not for accurate predictions");
  return {cmd, [args]() {
    const std::filesystem::path out = std::filesystem::absolute(args->out);
    std::error_code ec;
    if (out.has_parent_path()) std::filesystem::create_directories(out.parent_path(), ec);
    if (ec || std::filesystem::is_directory(out))
      throw InputError("--out", "\"" + args->out + "\"", "a file path whose directory can be created");
    if (args->ranks < 2)
      std::cerr << "warning: with --np 1 the profile has no collective or p2p times (predictions use the "
                   "scenario's links for communication)\n";
    check_backend(args->backend);
    std::vector<std::string> worker_args{"--calibrate", out.string(), "--backend", args->backend};
    if (args->quick) worker_args.emplace_back("--quick");
    MpiOptions mpi;
    mpi.ranks = args->ranks;
    mpi.hostfile = args->hostfile;
    const int code = run_process(mpi_command(mpi, worker_args));
    if (code == 2)
      throw InputError("--backend " + args->backend, "options the worker refused (its message is above)",
                       "a backend and options every rank can use");
    if (code != 0) throw Error("calibration failed (mpirun exit status " + std::to_string(code) + ")");
    const plan::CalibrationProfile profile = plan::read_profile_file(out.string());
    print_profile(profile, args->out, std::cout);
    return kExitOk;
  }};
}

}  // namespace clustersim::cli
