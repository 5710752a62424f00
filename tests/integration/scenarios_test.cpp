// Every scenario under scenarios/ is predicted end to end (parse, build, simulate, report), and its
// traces are valid: the trace JSON round-trips and the Chrome trace parses as the Trace Event Format.
#include <gtest/gtest.h>

#include <filesystem>
#include <sstream>

#include "clustersim/engine/simulate.hpp"
#include "clustersim/models/build.hpp"
#include "clustersim/plan/json.hpp"
#include "clustersim/reports/chrome_trace.hpp"
#include "clustersim/reports/reporter.hpp"

namespace clustersim {
namespace {

std::vector<std::filesystem::path> scenario_files() {
  std::vector<std::filesystem::path> out;
  const std::filesystem::path root = std::filesystem::path(CLUSTERSIM_SOURCE_DIR) / "scenarios";
  for (const auto& e : std::filesystem::recursive_directory_iterator(root)) {
    if (e.path().extension() != ".json") continue;
    const auto j = plan::read_json_file(e.path().string());
    if (j.contains("cluster")) out.push_back(e.path());  // sweeps and profiles live beside scenarios
  }
  std::sort(out.begin(), out.end());
  return out;
}

TEST(Scenarios, EveryBundledScenarioHasADescriptionAndIsPredicted) {
  const auto files = scenario_files();
  ASSERT_GE(files.size(), 8u);
  for (const auto& f : files) {
    SCOPED_TRACE(f.string());
    const auto j = plan::read_json_file(f.string());
    ASSERT_TRUE(j.contains("description")) << "every bundled scenario carries a one-line description";
    EXPECT_FALSE(j["description"].get<std::string>().empty());
    const models::Scenario sc = models::parse_scenario(j);
    const plan::Plan p = models::build_plan(sc);
    engine::SimulationOptions options;
    options.record_ops = p.world_size <= 64;  // keep the test quick on the large scenarios
    const plan::Trace t = engine::simulate(p, models::hardware_of(sc), options);
    EXPECT_GT(t.summary.step_time_s, 0.0);
    EXPECT_GT(t.summary.peak_memory_bytes, 0);
    EXPECT_GT(t.summary.mfu, 0.0);
    EXPECT_LT(t.summary.mfu, 1.0);
    std::ostringstream table;
    reports::write_report("table", t, {}, table);
    EXPECT_NE(table.str().find("step time"), std::string::npos);
  }
}

TEST(Scenarios, TraceAndChromeTraceAreValid) {
  const auto j = plan::read_json_file(std::string(CLUSTERSIM_SOURCE_DIR) + "/scenarios/default.json");
  const models::Scenario sc = models::parse_scenario(j);
  const plan::Plan p = models::build_plan(sc);
  engine::SimulationOptions options;
  options.record_wall_time = false;
  const plan::Trace t = engine::simulate(p, models::hardware_of(sc), options);
  // The trace schema round-trips through its reader.
  const nlohmann::json written = plan::to_json(t);
  const plan::Trace back = plan::trace_from_json(nlohmann::json::parse(written.dump()));
  EXPECT_EQ(plan::to_json(back).dump(), written.dump());
  EXPECT_EQ(written["schema"], "clustersim.trace/1");
  ASSERT_FALSE(t.ops.empty());
  // Chrome trace: an object with traceEvents; complete events carry ph, ts, dur, pid, tid, name.
  std::ostringstream os;
  reports::write_chrome_trace(t, os);
  const auto chrome = nlohmann::json::parse(os.str());
  ASSERT_TRUE(chrome.contains("traceEvents"));
  std::size_t complete = 0;
  for (const auto& e : chrome["traceEvents"]) {
    ASSERT_TRUE(e.contains("ph") && e.contains("pid"));
    if (e["ph"] == "X") {
      ++complete;
      EXPECT_TRUE(e.contains("ts") && e.contains("dur") && e.contains("tid") && e.contains("name"));
      EXPECT_GE(e["dur"].get<double>(), 0.0);
    }
  }
  EXPECT_GE(complete, t.ops.size());
}

TEST(Scenarios, PlanIsByteIdenticalAcrossBuilds) {
  const auto j = plan::read_json_file(std::string(CLUSTERSIM_SOURCE_DIR) + "/scenarios/zero2.json");
  const models::Scenario sc = models::parse_scenario(j);
  EXPECT_EQ(plan::to_json(models::build_plan(sc)).dump(), plan::to_json(models::build_plan(sc)).dump());
}

}  // namespace
}  // namespace clustersim
