// Launching measured runs under mpirun; see launcher.hpp.
#include "launcher.hpp"

#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <thread>

#include "clustersim/executor/cuda/backend.hpp"
#include "clustersim/executor/record.hpp"
#include "clustersim/models/build.hpp"
#include "clustersim/plan/error.hpp"
#include "clustersim/plan/json.hpp"

extern char** environ;

namespace clustersim::cli {

namespace fs = std::filesystem;

namespace {

bool executable(const fs::path& p) {
  std::error_code ec;
  return fs::is_regular_file(p, ec) && ::access(p.c_str(), X_OK) == 0;
}

std::string search_path(const std::string& name) {
  const char* path = std::getenv("PATH");
  if (path == nullptr) return "";
  std::string dirs = path;
  std::size_t start = 0;
  while (start <= dirs.size()) {
    const std::size_t end = std::min(dirs.find(':', start), dirs.size());
    const fs::path candidate = fs::path(dirs.substr(start, end - start)) / name;
    if (end > start && executable(candidate)) return candidate.string();
    start = end + 1;
  }
  return "";
}


}  // namespace

std::string make_temp_dir() {
  std::string pattern = (fs::temp_directory_path() / "clustersim-run-XXXXXX").string();
  if (::mkdtemp(pattern.data()) == nullptr)
    throw Error("cannot create a temporary run directory under " + fs::temp_directory_path().string() + ": " +
                std::strerror(errno));
  return pattern;
}

std::string find_mpiexec() {
  if (const char* env = std::getenv("CLUSTERSIM_MPIEXEC"); env != nullptr && *env != '\0') {
    if (!executable(env))
      throw InputError("$CLUSTERSIM_MPIEXEC", std::string("\"") + env + "\"", "the path of an executable mpirun");
    return env;
  }
#ifdef CLUSTERSIM_MPIEXEC_PATH
  if (executable(CLUSTERSIM_MPIEXEC_PATH)) return CLUSTERSIM_MPIEXEC_PATH;
#endif
  for (const char* name : {"mpirun", "mpiexec"})
    if (std::string p = search_path(name); !p.empty()) return p;
  throw Error("mpirun not found: install Open MPI (e.g. apt-get install openmpi-bin) or set CLUSTERSIM_MPIEXEC");
}

std::string find_worker() {
  if (const char* env = std::getenv("CLUSTERSIM_WORKER"); env != nullptr && *env != '\0') {
    if (!executable(env))
      throw InputError("$CLUSTERSIM_WORKER", std::string("\"") + env + "\"",
                       "the path of an executable clustersim-worker");
    return env;
  }
  std::error_code ec;
  const fs::path self = fs::read_symlink("/proc/self/exe", ec);
  if (!ec && executable(self.parent_path() / "clustersim-worker"))
    return (self.parent_path() / "clustersim-worker").string();
#ifdef CLUSTERSIM_WORKER_PATH
  if (executable(CLUSTERSIM_WORKER_PATH)) return CLUSTERSIM_WORKER_PATH;
#endif
  throw Error("clustersim-worker not found beside clustersim: build it (it needs MPI) or set CLUSTERSIM_WORKER");
}

std::vector<std::string> mpi_command(const MpiOptions& mpi, const std::vector<std::string>& worker_args) {
  std::vector<std::string> cmd{find_mpiexec()};
  std::vector<std::string> added;
  if (::geteuid() == 0) {
    cmd.emplace_back("--allow-run-as-root");
    added.emplace_back("--allow-run-as-root (running as root)");
  }
  const auto cores = static_cast<std::int32_t>(std::max(1u, std::thread::hardware_concurrency()));
  if (mpi.hostfile.empty() && mpi.ranks > cores) {
    cmd.emplace_back("--oversubscribe");
    added.push_back("--oversubscribe (" + std::to_string(mpi.ranks) + " ranks on " + std::to_string(cores) +
                    " cores)");
  }
  if (!added.empty()) {
    std::string line = "mpirun: added ";
    for (std::size_t i = 0; i < added.size(); ++i) line += (i ? ", " : "") + added[i];
    if (mpi.note)
      mpi.note(line);
    else
      std::cerr << line << '\n';
  }
  cmd.insert(cmd.end(), {"-n", std::to_string(mpi.ranks)});
  if (!mpi.hostfile.empty()) cmd.insert(cmd.end(), {"--hostfile", mpi.hostfile});
  cmd.push_back(find_worker());
  cmd.insert(cmd.end(), worker_args.begin(), worker_args.end());
  return cmd;
}

int run_process(const std::vector<std::string>& argv) {
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  // The child gets the default SIGINT/SIGTERM actions back; this process ignores them while it
  // waits, so an interrupted run still reports the steps it measured.
  struct sigaction ignore {}, old_int{}, old_term{};
  ignore.sa_handler = SIG_IGN;
  sigemptyset(&ignore.sa_mask);
  sigaction(SIGINT, &ignore, &old_int);
  sigaction(SIGTERM, &ignore, &old_term);
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  sigset_t defaults;
  sigemptyset(&defaults);
  sigaddset(&defaults, SIGINT);
  sigaddset(&defaults, SIGTERM);
  posix_spawnattr_setsigdefault(&attr, &defaults);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGDEF);
  std::cout.flush();
  std::cerr.flush();
  pid_t pid = 0;
  const int rc = posix_spawn(&pid, args[0], nullptr, &attr, args.data(), environ);
  posix_spawnattr_destroy(&attr);
  int status = 0;
  if (rc == 0)
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
  sigaction(SIGINT, &old_int, nullptr);
  sigaction(SIGTERM, &old_term, nullptr);
  if (rc != 0) throw Error("cannot start " + argv[0] + ": " + std::strerror(rc));
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return 255;
}

void check_backend(const std::string& backend) {
  if (backend == "cpu") return;
  if (backend == "cuda") {
    if (executor::cuda_built()) return;
    std::string why;
    executor::cuda_available(&why);
    throw InputError("--backend", "\"cuda\"", "\"cpu\": " + why);
  }
  throw InputError("--backend", "\"" + backend + "\"", "\"cpu\" or \"cuda\"");
}

plan::CalibrationProfile run_calibration(const CalibrationRequest& req) {
  check_backend(req.backend);
  std::vector<std::string> args{"--calibrate", req.out, "--backend", req.backend};
  if (req.quick) args.emplace_back("--quick");
  for (const auto& t : req.targets) args.insert(args.end(), {"--for", fs::absolute(t).string()});
  for (const auto& s : req.overrides) args.insert(args.end(), {"--set", s});
  if (req.grid) args.emplace_back("--grid");
  const int code = run_process(mpi_command(req.mpi, args));
  if (code == 2)
    throw InputError("--backend " + req.backend, "options the worker refused (its message is above)",
                     "a backend and options every rank can use");
  if (code != 0) throw Error("calibration failed (mpirun exit status " + std::to_string(code) + ")");
  return plan::read_profile_file(req.out);
}

MeasuredRun run_measured(const MeasuredRunRequest& req, const models::Scenario& sc, const plan::Plan& plan) {
  check_backend(req.backend);
  MeasuredRun out;
  const bool temporary = req.run_dir.empty();
  out.run_dir = temporary ? make_temp_dir() : fs::absolute(req.run_dir).string();
  std::error_code ec;
  fs::create_directories(out.run_dir, ec);
  if (ec) throw InputError("--run-dir", "\"" + out.run_dir + "\"", "a directory that can be created");
  // Records of an earlier run in the same directory would be taken for this run's.
  for (std::int32_t r = 0; r < plan.world_size; ++r) fs::remove(executor::rank_record_path(out.run_dir, r), ec);
  const std::string trace_path =
      req.trace_out.empty() ? (fs::path(out.run_dir) / "trace.json").string() : fs::absolute(req.trace_out).string();
  fs::remove(trace_path, ec);
  if (fs::path(trace_path).has_parent_path()) fs::create_directories(fs::path(trace_path).parent_path(), ec);

  std::vector<std::string> args{fs::absolute(req.scenario_path).string()};
  for (const auto& o : req.overrides) args.insert(args.end(), {"--set", o});
  args.insert(args.end(), {"--backend", req.backend, "--steps", std::to_string(req.steps), "--warmup",
                           std::to_string(req.warmup), "--run-dir", out.run_dir, "--out", trace_path});
  if (req.seed >= 0) args.insert(args.end(), {"--seed", std::to_string(req.seed)});
  out.exit_code = run_process(mpi_command(req.mpi, args));

  if (out.exit_code == 0 && fs::exists(trace_path)) {
    out.trace = plan::read_trace_file(trace_path);
    out.complete = true;
    if (temporary) fs::remove_all(out.run_dir, ec);
    return out;
  }
  const plan::Hardware hw = models::hardware_of(sc);
  executor::TraceOptions topt;
  topt.scenario = plan.meta.scenario;
  topt.hardware = hw.name;
  topt.backend = req.backend;
  const auto peak = hw.gpu.peak_tflops.find(compute_dtype(plan.meta.precision));
  topt.peak_flops_per_rank = peak == hw.gpu.peak_tflops.end() ? 0.0 : peak->second * 1e12;
  topt.capacity_bytes = hw.usable_memory_bytes();
  topt.extra = {{"warmup_steps", req.warmup}, {"communicators", "mpi"}};
  const executor::RunDirResult assembled = executor::assemble_trace_from_run_dir(plan, out.run_dir, topt);
  if (out.exit_code == 2 && assembled.steps == 0)
    throw InputError(req.scenario_path, "input the worker refused (its message is above)",
                     "a scenario and options every rank accepts");
  out.trace = assembled.trace;
  out.failure = assembled.message.empty()
                    ? "mpirun exited with status " + std::to_string(out.exit_code) + " after every rank finished"
                    : assembled.message;
  if (out.exit_code != 0) out.failure += " (mpirun exit status " + std::to_string(out.exit_code) + ")";
  return out;
}

}  // namespace clustersim::cli
