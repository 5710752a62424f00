// The measured side of the CLI as a user runs it (labels integration, mpi): `clustersim run` of a
// validation scenario writes a valid measured trace with per-op spans and losses; a rank killed
// mid-run is named and the steps measured before still form a (partial) trace; `calibrate --quick`
// writes a profile the engine reads; `validate` runs end to end and its exit code follows the
// tolerance; bad input to each command exits 2 naming the path; and the default small scenario
// really trains: its loss halves within 200 steps.
#include <gtest/gtest.h>

#include <array>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <set>
#include <string>

#include <sys/wait.h>
#include <unistd.h>

#include "clustersim/engine/simulate.hpp"
#include "clustersim/executor/cuda/backend.hpp"
#include "clustersim/models/build.hpp"
#include "clustersim/models/scenario.hpp"
#include "clustersim/plan/json.hpp"
#include "clustersim/plan/profile.hpp"

namespace clustersim {
namespace {

struct Result {
  int code = -1;
  std::string out;  // stdout and stderr together
};

Result shell(const std::string& cmd) {
  Result r;
  FILE* pipe = popen((cmd + " 2>&1").c_str(), "r");
  if (pipe == nullptr) return r;
  std::array<char, 4096> buf{};
  std::size_t n = 0;
  while ((n = fread(buf.data(), 1, buf.size(), pipe)) > 0) r.out.append(buf.data(), n);
  const int status = pclose(pipe);
  r.code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return r;
}

std::string cli() { return CLUSTERSIM_CLI; }
std::string source(const std::string& rel) { return std::string(CLUSTERSIM_SOURCE_DIR) + "/" + rel; }
std::string scenario() { return source("scenarios/validation/gpt-tiny-dp2.json"); }

std::string temp(const std::string& name) {
  const auto dir = std::filesystem::temp_directory_path() / ("clustersim-exec-cli-" + std::to_string(getpid()));
  std::filesystem::create_directories(dir);
  return (dir / name).string();
}

class ExecutorCli : public testing::Test {
 protected:
  // One quick profile (a few seconds), made by the first test that needs it (ctest runs each test
  // in its own process, so the others do not pay for it).
  static const Result& calibration() {
    static const Result r = shell(cli() + " calibrate --backend cpu --np 2 --quick -o " + profile_path());
    return r;
  }
  static std::string profile_path() { return temp("quick-profile.json"); }
};

TEST_F(ExecutorCli, RunWritesAMeasuredTraceWithSpansAndLosses) {
  const std::string trace_file = temp("run.json");
  const Result r = shell(cli() + " run " + scenario() + " --backend cpu --steps 4 -o " + trace_file);
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_NE(r.out.find("mean step time"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("loss"), std::string::npos) << r.out;
  const plan::Trace t = plan::read_trace_file(trace_file);
  EXPECT_EQ(t.source, plan::TraceSource::measured);
  EXPECT_EQ(t.scenario, "gpt-tiny-dp2");
  EXPECT_EQ(t.ranks, (std::vector<std::int32_t>{0, 1}));
  ASSERT_EQ(t.summary.losses.size(), 4u);
  for (double l : t.summary.losses) EXPECT_TRUE(std::isfinite(l) && l > 0.0);
  EXPECT_GT(t.summary.step_time_s, 0.0);
  EXPECT_GT(t.summary.peak_memory_bytes, 0);
  // every op of both ranks' program has a span in each of the 3 steps after the warm-up step
  const std::size_t ops_per_rank = t.programs.at(0).ops.size();
  EXPECT_EQ(t.ops.size(), 2 * 3 * ops_per_rank);
  for (const auto& span : t.ops) EXPECT_LE(span.start_ns, span.end_ns);
  EXPECT_FALSE(t.comm.empty());
}

TEST_F(ExecutorCli, KilledRankIsNamedAndItsMeasuredStepsAreWritten) {
  const std::string trace_file = temp("killed.json");
  std::filesystem::remove(trace_file);
  const Result r =
      shell("CLUSTERSIM_WORKER_TEST_KILL=1:2 " + cli() + " run " + scenario() + " --steps 6 -o " + trace_file);
  EXPECT_NE(r.code, 0) << r.out;
  EXPECT_NE(r.out.find("rank 1 stopped after step 2"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find(trace_file), std::string::npos) << r.out;
  ASSERT_TRUE(std::filesystem::exists(trace_file)) << r.out;
  const plan::Trace t = plan::read_trace_file(trace_file);
  EXPECT_TRUE(t.extra.at("partial").get<bool>());
  EXPECT_EQ(t.summary.losses.size(), 3u);  // steps 0..2 finished on both ranks
  EXPECT_GT(t.summary.step_time_s, 0.0);
  EXPECT_FALSE(t.ops.empty());
}

TEST_F(ExecutorCli, CalibrateQuickWritesAProfileTheEngineReads) {
  ASSERT_EQ(calibration().code, 0) << calibration().out;
  EXPECT_NE(calibration().out.find("samples"), std::string::npos) << calibration().out;
  const auto profile = std::make_shared<const plan::CalibrationProfile>(plan::read_profile_file(profile_path()));
  EXPECT_EQ(profile->backend, "cpu");
  EXPECT_FALSE(profile->gemm.empty());
  EXPECT_FALSE(profile->collectives.empty());  // 2 ranks: collectives were timed
  const models::Scenario sc = models::parse_scenario(models::load_scenario_json(scenario()));
  engine::SimulationOptions o;
  o.cost_model = "calibrated";
  o.profile = profile;
  const plan::Trace t = engine::simulate(models::build_plan(sc), models::hardware_of(sc), o);
  EXPECT_GT(t.summary.step_time_s, 0.0);
  EXPECT_EQ(t.extra.at("cost_model").at("profile").at("backend"), "cpu");
}

// `calibrate --for` measures the scenario's own ops (one exact sample per distinct kernel op, its
// collective at its size and dtype) with as many ranks as it runs, and the prediction with that
// profile times every kernel op from an exact sample; `validate --calibrate` does it just before the
// run and keeps the profile where --profile says.
TEST_F(ExecutorCli, TargetedCalibrationCoversEveryOpOfTheScenario) {
  const std::string path = temp("targeted.json");
  const Result r = shell(cli() + " calibrate --for " + scenario() + " -o " + path);
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_NE(r.out.find("exact ops"), std::string::npos) << r.out;
  const auto profile = std::make_shared<const plan::CalibrationProfile>(plan::read_profile_file(path));
  const models::Scenario sc = models::parse_scenario(models::load_scenario_json(scenario()));
  const plan::Plan plan = models::build_plan(sc);
  std::set<std::string> measured;
  for (const auto& s : profile->ops) measured.insert(s.signature);
  for (const auto& op : plan.programs[0].ops) {
    const std::string sig = plan::op_signature(plan, op);
    if (!sig.empty()) {
      EXPECT_TRUE(measured.count(sig)) << op.name;
    }
  }
  bool bucket = false;  // the data-parallel gradient all-reduce, at its exact size
  for (const auto& c : profile->collectives) {
    if (!(c.type == CollectiveType::all_reduce && c.ranks == 2 && c.dtype == DType::fp32 && c.bytes > (1 << 20)))
      continue;
    bucket = true;
    // with how much longer it takes when a rank arrived 0.5, 1, 2 and 4 ms early (the reader
    // checked the order and that every delay is >= 0)
    ASSERT_EQ(c.idle_delay.size(), 4u);
    EXPECT_DOUBLE_EQ(c.idle_delay[0].idle_ns, 0.5e6);
    EXPECT_DOUBLE_EQ(c.idle_delay[3].idle_ns, 4e6);
  }
  EXPECT_TRUE(bucket);
  // per-round speeds of the two ranks, each round's factors averaging 1
  ASSERT_FALSE(profile->rank_compute_factor_samples.empty());
  for (const auto& row : profile->rank_compute_factor_samples) {
    ASSERT_EQ(row.size(), 2u);
    EXPECT_NEAR(row[0] + row[1], 2.0, 1e-9);
  }
  engine::SimulationOptions o;
  o.cost_model = "calibrated";
  o.profile = profile;
  const plan::Trace t = engine::simulate(plan, models::hardware_of(sc), o);
  for (const auto& f : t.extra.at("cost_model").at("fallbacks"))
    EXPECT_EQ(f.at("what").get<std::string>().find("no exact sample"), std::string::npos) << f.dump();

  const std::string kept = temp("kept-profile.json");
  const Result v = shell(cli() + " validate " + scenario() + " --calibrate --profile " + kept +
                         " --steps 4 --warmup 1 --tolerance 1000 --memory-tolerance 1000 --comm-tolerance 1000 --machine-tolerance 1000");
  EXPECT_EQ(v.code, 0) << v.out;
  EXPECT_NE(v.out.find("calibrating this scenario"), std::string::npos) << v.out;
  EXPECT_FALSE(plan::read_profile_file(kept).ops.empty());
}

TEST_F(ExecutorCli, ValidateExitCodeFollowsTheTolerance) {
  ASSERT_EQ(calibration().code, 0) << calibration().out;
  const std::string report = temp("report.md"), json = temp("report.json");
  const std::string base = cli() + " validate " + scenario() + " --backend cpu --profile " + profile_path() + " --steps 4 --warmup 1";
  const Result pass = shell(base + " --tolerance 1000 --memory-tolerance 1000 --comm-tolerance 1000 --machine-tolerance 1000 --report " + report);
  EXPECT_EQ(pass.code, 0) << pass.out;
  EXPECT_NE(pass.out.find("step time"), std::string::npos) << pass.out;
  std::ifstream in(report);
  const std::string md((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_NE(md.find("| step time"), std::string::npos) << md;
  const Result fail = shell(base + " --tolerance 1e-9 --machine-tolerance 1000 --format json --report " + json);
  EXPECT_EQ(fail.code, 1) << fail.out;
  EXPECT_NE(fail.out.find("beyond tolerance"), std::string::npos) << fail.out;
  std::ifstream jin(json);
  const auto doc = nlohmann::json::parse(jin);
  EXPECT_EQ(doc.at("schema"), "clustersim.comparison/1");
  EXPECT_FALSE(doc.at("passed").get<bool>());
  EXPECT_FALSE(doc.at("classes").empty());
  bool probed = false;  // the calibration's machine probe against the run's
  for (const auto& k : doc.at("checks")) probed |= k.at("name") == "machine: all-reduce probe";
  EXPECT_TRUE(probed) << doc.at("checks").dump();

  // A machine probe that moved at all (tolerance 0) is a changed machine: the run is made again
  // up to --attempts times, and the failure says the comparison does not judge the model.
  const Result changed = shell(base + " --tolerance 1000 --memory-tolerance 1000 --comm-tolerance 1000 "
                                      "--machine-tolerance 0 --attempts 2");
  EXPECT_EQ(changed.code, 1) << changed.out;
  EXPECT_NE(changed.out.find("attempt 1 of 2: the machine changed"), std::string::npos) << changed.out;
  EXPECT_NE(changed.out.find("the machine changed between calibration and run"), std::string::npos) << changed.out;
}

TEST_F(ExecutorCli, BadInputExitsTwoNamingThePath) {
  const std::string missing = temp("no-such-scenario.json");
  for (const std::string cmd : {" run ", " validate "}) {
    const Result r = shell(cli() + cmd + missing);
    EXPECT_EQ(r.code, 2) << cmd << r.out;
    EXPECT_NE(r.out.find(missing), std::string::npos) << cmd << r.out;
  }
  const Result np = shell(cli() + " run " + scenario() + " --np 3");
  EXPECT_EQ(np.code, 2) << np.out;
  EXPECT_NE(np.out.find("--np"), std::string::npos) << np.out;
  const Result override = shell(cli() + " run " + scenario() + " --set training.micro_batch=3");
  EXPECT_EQ(override.code, 2) << override.out;
  EXPECT_NE(override.out.find("training.global_batch"), std::string::npos) << override.out;
  const std::string no_profile = temp("no-such-profile.json");
  const Result profile = shell(cli() + " validate " + scenario() + " --profile " + no_profile);
  EXPECT_EQ(profile.code, 2) << profile.out;
  EXPECT_NE(profile.out.find(no_profile), std::string::npos) << profile.out;
  const std::string blocked = temp("a-file");
  std::ofstream(blocked) << "x";
  const Result out = shell(cli() + " calibrate --quick -o " + blocked + "/profile.json");
  EXPECT_EQ(out.code, 2) << out.out;
  EXPECT_NE(out.out.find(blocked), std::string::npos) << out.out;
  const Result unknown = shell(cli() + " run " + scenario() + " --backend rocm");
  EXPECT_EQ(unknown.code, 2) << unknown.out;
  EXPECT_NE(unknown.out.find("--backend"), std::string::npos) << unknown.out;
}

// --backend cuda: a profile of another backend is refused before anything runs, and on a host
// without a usable GPU every rank says why instead of crashing.
TEST_F(ExecutorCli, CudaBackendChecksItsProfileAndDevice) {
  ASSERT_EQ(calibration().code, 0) << calibration().out;
  const Result mismatch = shell(cli() + " validate " + scenario() + " --backend cuda --profile " + profile_path());
  EXPECT_EQ(mismatch.code, 2) << mismatch.out;
  EXPECT_NE(mismatch.out.find("--backend cuda"), std::string::npos) << mismatch.out;
  std::string why;
  if (executor::cuda_available(&why)) GTEST_SKIP() << "a CUDA device is present: the gpu-labelled tests run it";
  for (const std::string& cmd : {" calibrate --quick --np 1 -o " + temp("cuda-profile.json"),
                                " run " + source("scenarios/validation/gpu-gpt2-124m-bf16.json") + " --steps 2"}) {
    const Result r = shell(cli() + cmd + " --backend cuda");
    EXPECT_EQ(r.code, 2) << cmd << r.out;
    EXPECT_NE(r.out.find(executor::cuda_built() ? "no CUDA device" : "without the CUDA backend"), std::string::npos)
        << cmd << r.out;
  }
}

// The default small scenario (scenarios/validation/gpt-tiny-dp2.json) really learns: the synthetic
// corpus's loss starts near ln 256 = 5.5 and must fall below half of the first step's.
TEST_F(ExecutorCli, LossOfTheDefaultSmallScenarioHalvesWithin200Steps) {
  const std::string trace_file = temp("train.json");
  const Result r = shell(cli() + " run " + scenario() + " --steps 200 -o " + trace_file);
  ASSERT_EQ(r.code, 0) << r.out;
  const plan::Trace t = plan::read_trace_file(trace_file);
  ASSERT_EQ(t.summary.losses.size(), 200u);
  const double first = t.summary.losses.front(), last = t.summary.losses.back();
  EXPECT_GT(first, 5.0);
  EXPECT_LE(last, first / 2.0) << "loss " << first << " -> " << last;
}

}  // namespace
}  // namespace clustersim
