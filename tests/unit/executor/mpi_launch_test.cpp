// Launches the executor test driver under mpirun (label mpi): a normal 2-rank run writes a
// complete run directory whose assembled trace matches the gathered one, and a run where rank 1
// kills itself after step 2 fails with an error naming rank 1 while the steps measured before the
// kill still form a (partial) trace.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <string>

#include "clustersim/executor/record.hpp"
#include "clustersim/plan/json.hpp"
#include "test_plans.hpp"

namespace clustersim::executor {
namespace {

int launch(const std::string& args, const std::string& log) {
  const std::string cmd = std::string(CLUSTERSIM_MPIEXEC) + " --allow-run-as-root --oversubscribe -n 2 " +
                          CLUSTERSIM_TEST_DRIVER + " " + args + " > " + log + " 2>&1";
  return std::system(cmd.c_str());
}

plan::Plan driver_plan() {
  test::MlpConfig c;
  c.dp = 2;
  c.comm_stream = true;
  return test::make_mlp_plan(c).plan;
}

TEST(MpiLaunch, CompleteRunLeavesACompleteRunDirectory) {
  const std::string dir = testing::TempDir() + "/run_ok", trace = testing::TempDir() + "/run_ok.json";
  std::filesystem::remove_all(dir);
  ASSERT_EQ(launch("--steps 6 --run-dir " + dir + " --trace " + trace, dir + ".log"), 0);
  const RunDirResult r = assemble_trace_from_run_dir(driver_plan(), dir, {});
  EXPECT_TRUE(r.complete) << r.message;
  EXPECT_EQ(r.steps, 6);
  const plan::Trace gathered = plan::read_trace_file(trace);
  EXPECT_EQ(gathered.summary.losses.size(), 6u);
  ASSERT_EQ(r.trace.summary.losses.size(), 6u);
  for (std::size_t i = 0; i < 6; ++i) EXPECT_DOUBLE_EQ(r.trace.summary.losses[i], gathered.summary.losses[i]);
  EXPECT_EQ(r.trace.ops.size(), gathered.ops.size());
  EXPECT_LT(gathered.summary.losses.back(), gathered.summary.losses.front());
}

TEST(MpiLaunch, KilledRankIsNamedAndMeasuredStepsSurvive) {
  const std::string dir = testing::TempDir() + "/run_killed";
  std::filesystem::remove_all(dir);
  EXPECT_NE(launch("--steps 6 --run-dir " + dir + " --kill-rank 1 --kill-after 2", dir + ".log"), 0);
  const RunDirResult r = assemble_trace_from_run_dir(driver_plan(), dir, {});
  EXPECT_FALSE(r.complete);
  ASSERT_FALSE(r.failed_ranks.empty());
  EXPECT_NE(std::find(r.failed_ranks.begin(), r.failed_ranks.end(), 1), r.failed_ranks.end());
  EXPECT_NE(r.message.find("rank 1 stopped after step 2"), std::string::npos) << r.message;
  EXPECT_EQ(r.message.find("rank 1"), r.message.find("rank ")) << "rank 1 is named first: " << r.message;
  // steps 0..2 were measured on both ranks before the kill
  EXPECT_EQ(r.steps, 3);
  EXPECT_EQ(r.trace.summary.losses.size(), 3u);
  EXPECT_TRUE(r.trace.extra.at("partial").get<bool>());
  EXPECT_EQ(r.trace.ranks.size(), 2u);
  EXPECT_GT(r.trace.summary.step_time_s, 0.0);
}

}  // namespace
}  // namespace clustersim::executor
