// The CLI as a user runs it: help and version, the default prediction in every format, trace
// files, exit codes (0 ok, 1 failed check, 2 bad input) and clear messages for bad input.
#include <gtest/gtest.h>

#include <array>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <sys/wait.h>

#include "clustersim/plan/json.hpp"
#include "clustersim/reports/format.hpp"

namespace clustersim {
namespace {

struct CliRun {
  int code = -1;
  std::string out;  // stdout and stderr together
};

CliRun run(const std::string& args) {
  const std::string cmd = std::string(CLUSTERSIM_CLI) + " " + args + " 2>&1";
  CliRun r;
  FILE* pipe = popen(cmd.c_str(), "r");
  if (pipe == nullptr) return r;
  std::array<char, 4096> buf{};
  std::size_t n = 0;
  while ((n = fread(buf.data(), 1, buf.size(), pipe)) > 0) r.out.append(buf.data(), n);
  const int status = pclose(pipe);
  r.code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return r;
}

std::string source(const std::string& rel) { return std::string(CLUSTERSIM_SOURCE_DIR) + "/" + rel; }

std::string temp_path(const std::string& name) {
  const auto dir = std::filesystem::temp_directory_path() / ("clustersim-cli-" + std::to_string(getpid()));
  std::filesystem::create_directories(dir);
  return (dir / name).string();
}

TEST(Cli, HelpAndVersion) {
  EXPECT_EQ(run("--help").code, 0);
  const CliRun v = run("--version");
  EXPECT_EQ(v.code, 0);
  EXPECT_NE(v.out.find("clustersim"), std::string::npos);
  for (const char* cmd : {"predict", "catalog"}) {
    const CliRun h = run(std::string(cmd) + " --help");
    EXPECT_EQ(h.code, 0) << cmd;
    EXPECT_NE(h.out.find("Usage"), std::string::npos) << cmd;
  }
  EXPECT_EQ(run("").code, 2);
  EXPECT_EQ(run("no-such-command").code, 2);
}

TEST(Cli, PredictsTheDefaultScenarioInEveryFormat) {
  const CliRun table = run("predict " + source("scenarios/default.json"));
  ASSERT_EQ(table.code, 0) << table.out;
  EXPECT_NE(table.out.find("step time"), std::string::npos);
  EXPECT_NE(table.out.find("fits"), std::string::npos);
  const CliRun json = run("predict " + source("scenarios/default.json") + " --format json");
  ASSERT_EQ(json.code, 0) << json.out;
  const auto j = nlohmann::json::parse(json.out);
  EXPECT_GT(j["summary"]["step_time_s"].get<double>(), 0.0);
  const CliRun csv = run("predict " + source("scenarios/default.json") + " --format csv");
  ASSERT_EQ(csv.code, 0) << csv.out;
  const auto rows = reports::csv_parse(csv.out);
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_NE(std::find(rows[0].begin(), rows[0].end(), "step_time_s"), rows[0].end());
  EXPECT_EQ(rows[0].size(), rows[1].size());
}

TEST(Cli, WritesTraceChromeTraceHtmlAndPlan) {
  const std::string trace = temp_path("t.json"), chrome = temp_path("c.json"), html = temp_path("r.html"),
                    plan_file = temp_path("p.json");
  const CliRun r = run("predict " + source("scenarios/single-gpu.json") + " --trace " + trace + " --chrome-trace " +
                    chrome + " --html " + html + " --plan " + plan_file);
  ASSERT_EQ(r.code, 0) << r.out;
  const plan::Trace t = plan::read_trace_file(trace);
  EXPECT_FALSE(t.ops.empty());
  const auto c = plan::read_json_file(chrome);
  EXPECT_GT(c["traceEvents"].size(), t.ops.size());
  std::ifstream h(html);
  const std::string page((std::istreambuf_iterator<char>(h)), std::istreambuf_iterator<char>());
  EXPECT_NE(page.find("<svg"), std::string::npos);
  const auto p = plan::plan_from_json(plan::read_json_file(plan_file));
  EXPECT_EQ(p.world_size, 1);
}

TEST(Cli, OverridesChangeThePrediction) {
  const CliRun base = run("predict " + source("scenarios/default.json") + " --format json");
  const CliRun more = run("predict " + source("scenarios/default.json") + " --format json --set training.micro_batch=4");
  ASSERT_EQ(base.code, 0);
  ASSERT_EQ(more.code, 0) << more.out;
  const auto a = nlohmann::json::parse(base.out), b = nlohmann::json::parse(more.out);
  EXPECT_LT(b["summary"]["peak_memory_bytes"].get<double>(), a["summary"]["peak_memory_bytes"].get<double>());
}

TEST(Cli, BadInputExitsWithTwoAndNamesThePath) {
  struct Case {
    std::string args, expect;
  };
  const std::vector<Case> cases = {
      {"predict " + source("scenarios/default.json") + " --set parallelism.tp=3", "parallelism"},
      {"predict " + source("scenarios/default.json") + " --set training.micro_bach=2", "did you mean \"micro_batch\""},
      {"predict " + source("scenarios/default.json") + " --set cluster.gpu=H100-SXM-40GB", "cluster.gpu"},
      {"predict " + source("scenarios/default.json") + " --set training.precision=fp4", "training.precision"},
      {"predict " + source("scenarios/default.json") + " --set training.global_batch=100", "training.global_batch"},
      {"predict " + source("scenarios/default.json") + " --set =3", "--set"},
      {"predict " + source("scenarios/default.json") + " --format xml", "format"},
      {"predict /nonexistent/scenario.json", "/nonexistent/scenario.json"},
      {"catalog planets", "planets"},
  };
  for (const auto& c : cases) {
    const CliRun r = run(c.args);
    EXPECT_EQ(r.code, 2) << c.args << "\n" << r.out;
    EXPECT_NE(r.out.find(c.expect), std::string::npos) << c.args << "\n" << r.out;
    EXPECT_EQ(r.out.find("internal error"), std::string::npos) << r.out;
  }
}

TEST(Cli, InvalidJsonFileIsBadInput) {
  const std::string path = temp_path("broken.json");
  std::ofstream(path) << "{ \"name\": \"x\", ";
  const CliRun r = run("predict " + path);
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.out.find("broken.json"), std::string::npos) << r.out;
}

TEST(Cli, RequireFitFailsWhenTheStepDoesNotFit) {
  // ZeRO-0 for GPT-3 6.7B keeps 16 bytes per parameter (107 GB) on every 80 GB GPU.
  const CliRun r = run("predict " + source("scenarios/zero0.json") + " --require-fit");
  EXPECT_EQ(r.code, 1) << r.out;
  EXPECT_NE(r.out.find("does not fit"), std::string::npos) << r.out;
  EXPECT_EQ(run("predict " + source("scenarios/zero1.json") + " --require-fit").code, 0);
}

TEST(Cli, ReportsWhatStragglersCost) {
  // One rank 30% slower gates every data-parallel all-reduce: the step is about 30% longer.
  const CliRun r = run("predict " + source("scenarios/straggler.json"));
  ASSERT_EQ(r.code, 0) << r.out;
  const auto at = r.out.find("perturbations");
  ASSERT_NE(at, std::string::npos) << r.out;
  const auto pct = r.out.find('%', at);
  ASSERT_NE(pct, std::string::npos);
  const auto open = r.out.rfind('(', pct);
  const double increase = std::stod(r.out.substr(open + 1, pct - open - 1));
  EXPECT_GT(increase, 25.0);
  EXPECT_LT(increase, 40.0);
}

TEST(Cli, CatalogListsPresets) {
  const CliRun r = run("catalog gpus");
  ASSERT_EQ(r.code, 0);
  for (const char* gpu : {"V100-32GB", "A100-80GB", "H100-SXM-80GB", "H200-141GB", "B200", "MI300X", "L4"})
    EXPECT_NE(r.out.find(gpu), std::string::npos) << gpu;
  const CliRun a = run("catalog architectures --format json");
  ASSERT_EQ(a.code, 0);
  EXPECT_TRUE(nlohmann::json::parse(a.out)["architectures"].contains("llama3-70b"));
}

}  // namespace
}  // namespace clustersim
