// Runs a scenario on the CUDA backend and checks it against its prediction, with no CLI in between:
// parse, build the plan, run it on this process's GPU(s) (under mpirun: one rank per GPU), gather
// the measured trace, predict the same plan with the roofline (or a calibrated) cost model, compare,
// and write the measured trace, the predicted trace and a Markdown comparison. Used for the GPU
// validation set (scenarios/validation/gpu-*.json, docs/CUDA.md) and as a smoke test on a new machine.
//   executor_cuda_validation_driver SCENARIO [--steps N] [--warmup N] [--measured FILE] [--predicted FILE]
//        [--report FILE.md] [--profile PROFILE.json] [--sequential] [--no-mpi] [--calibrate FILE [--quick]]
// Exit code: 0 when the run finished (and the comparison passed when --report is given), 1 when a
// check failed (including out of device memory), 2 on bad input, 3 otherwise.
#include <cstdio>
#include <fstream>
#include <memory>
#include <string>

#include "clustersim/engine/simulate.hpp"
#include "clustersim/executor/communicator.hpp"
#include "clustersim/executor/cuda/backend.hpp"
#include "clustersim/executor/cuda/comm_math.hpp"
#include "clustersim/models/build.hpp"
#include "clustersim/models/scenario.hpp"
#include "clustersim/plan/json.hpp"
#include "clustersim/plan/profile.hpp"
#include "clustersim/reports/compare.hpp"

using namespace clustersim;

namespace {


int run(int argc, char** argv) {
  std::string scenario_file, measured_out, predicted_out, report_out, profile_file, calibrate_out;
  int steps = -1, warmup = 1;
  bool sequential = false, use_mpi = true, quick = false;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) throw InputError(a, "nothing", "a value after it");
      return argv[++i];
    };
    if (a == "--steps")
      steps = std::stoi(next());
    else if (a == "--warmup")
      warmup = std::stoi(next());
    else if (a == "--measured")
      measured_out = next();
    else if (a == "--predicted")
      predicted_out = next();
    else if (a == "--report")
      report_out = next();
    else if (a == "--profile")
      profile_file = next();
    else if (a == "--calibrate")
      calibrate_out = next();
    else if (a == "--quick")
      quick = true;
    else if (a == "--sequential")
      sequential = true;
    else if (a == "--no-mpi")
      use_mpi = false;
    else if (!a.empty() && a[0] != '-' && scenario_file.empty())
      scenario_file = a;
    else
      throw InputError("arguments", a, "SCENARIO and the options in this program's header comment");
  }
  std::string why;
  if (!executor::cuda_available(&why)) throw Error(why);
  std::unique_ptr<executor::MpiSession> session;
  std::unique_ptr<executor::CommunicatorFactory> comms;
  if (use_mpi && executor::mpi_built()) {
    session = std::make_unique<executor::MpiSession>();
    comms = executor::make_mpi_communicators();
  } else {
    comms = executor::make_local_communicators();
  }
  const bool root = comms->world_rank() == 0;

  if (!calibrate_out.empty()) {
    executor::CalibrationOptions o =
        quick ? executor::CalibrationOptions::quick() : executor::cuda_calibration_defaults();
    const plan::CalibrationProfile p = executor::calibrate_cuda(*comms, o);
    if (root) {
      plan::write_json_file(calibrate_out, plan::to_json(p), 2);
      for (const auto& b : executor::cuda::collective_bandwidths(p))
        std::printf("%-15s ranks %2d %12lld B  %10.1f us  algbw %7.2f GB/s  busbw %7.2f GB/s\n",
                    std::string(to_string(b.type)).c_str(), b.ranks, static_cast<long long>(b.bytes),
                    b.time_ns / 1e3, b.algbw_gbytes_s, b.busbw_gbytes_s);
      std::printf("profile written to %s\n", calibrate_out.c_str());
    }
    return 0;
  }
  if (scenario_file.empty()) throw InputError("arguments", "no scenario", "a scenario file");

  const models::Scenario sc = models::parse_scenario(models::load_scenario_json(scenario_file));
  const plan::Plan plan = models::build_plan(sc);
  executor::check_cuda_kernels(plan);
  const plan::Hardware hw = models::hardware_of(sc);
  executor::RunOptions o;
  o.steps = steps > 0 ? steps : static_cast<int>(std::max<std::int64_t>(sc.training.steps, warmup + 2));
  o.warmup_steps = warmup;
  o.threading = sequential ? executor::StreamThreading::sequential : executor::StreamThreading::thread_per_stream;
  o.scenario = sc.name;
  o.hardware = hw.name;
  o.peak_flops_per_rank = hw.gpu.peak_tflops_for(compute_dtype(sc.training.precision)) * 1e12;
  o.on_step = [root](const executor::StepReport& r) {
    if (root)
      std::printf("step %3d  loss %.4f  %s%8.2f ms%s\n", r.step, r.loss, r.warmup ? "(warm-up) " : "",
                  static_cast<double>(r.duration_ns) / 1e6, r.skipped ? "  skipped (non-finite gradient)" : "");
  };
  const executor::RunResult result = executor::run_rank_cuda(plan, *comms, o);
  if (!root) return 0;
  const plan::Trace& measured = *result.trace;
  std::printf("%s: step %.2f ms, %.0f tokens/s, MFU %.1f%%, peak memory %.2f GiB\n", sc.name.c_str(),
              measured.summary.step_time_s * 1e3, measured.summary.tokens_per_s, measured.summary.mfu * 100.0,
              static_cast<double>(measured.summary.peak_memory_bytes) / (1024.0 * 1024.0 * 1024.0));
  if (!measured_out.empty()) plan::write_json_file(measured_out, plan::to_json(measured));
  engine::SimulationOptions so;
  if (!profile_file.empty()) {
    so.cost_model = "calibrated";
    so.profile = std::make_shared<plan::CalibrationProfile>(plan::read_profile_file(profile_file));
  }
  const plan::Trace predicted = engine::simulate(plan, hw, so);
  if (!predicted_out.empty()) plan::write_json_file(predicted_out, plan::to_json(predicted));
  if (report_out.empty()) return 0;
  reports::CompareOptions co;
  co.warmup_steps = warmup;
  const reports::Comparison cmp = reports::compare(predicted, measured, co);
  std::ofstream out(report_out);
  if (!out) throw InputError("--report", report_out, "a writable file");
  reports::write_comparison_markdown(cmp, out);
  std::printf("comparison written to %s\n", report_out.c_str());
  return cmp.passed ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    return run(argc, argv);
  } catch (const InputError& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 2;
  } catch (const CheckFailed& e) {
    std::fprintf(stderr, "check failed: %s\n", e.what());
    return 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 3;
  }
}
