// `clustersim sweep` and `clustersim search` as users run them, including a sweep split across
// two MPI ranks, which must give the same rows as one process.
#include <gtest/gtest.h>

#include <array>
#include <cstdio>
#include <filesystem>
#include <fstream>

#include <sys/wait.h>
#include <unistd.h>

#include "clustersim/plan/json.hpp"
#include "clustersim/reports/format.hpp"

namespace clustersim {
namespace {

struct Result {
  int code = -1;
  std::string out;
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
std::string temp(const std::string& name) {
  const auto dir = std::filesystem::temp_directory_path() / ("clustersim-explore-" + std::to_string(getpid()));
  std::filesystem::create_directories(dir);
  return (dir / name).string();
}

std::string small_sweep() {
  const std::string path = temp("sweep.json");
  std::ofstream(path) << R"({
    "name": "small", "description": "micro-batch x tp on the default scenario",
    "base": ")" << source("scenarios/default.json") << R"(",
    "set": {"parallelism.dp": null},
    "axes": [{"path": "parallelism.tp", "values": [1, 2, 4]},
             {"path": "training.micro_batch", "values": [1, 3, 4]}]
  })";
  return path;
}

// Rows without the wall-clock column, which differs between runs.
std::vector<std::vector<std::string>> rows_without_wall_time(const std::string& csv) {
  auto rows = reports::csv_parse(csv);
  if (rows.empty()) return rows;
  const auto it = std::find(rows[0].begin(), rows[0].end(), "wall_time_s");
  const auto col = static_cast<std::size_t>(it - rows[0].begin());
  for (auto& r : rows)
    if (col < r.size()) r.erase(r.begin() + static_cast<std::ptrdiff_t>(col));
  return rows;
}

TEST(SweepCli, WritesARowPerPointIncludingInvalidOnes) {
  const std::string out = temp("sweep.csv");
  const Result r = shell(cli() + " sweep " + small_sweep() + " --no-progress -o " + out);
  ASSERT_EQ(r.code, 0) << r.out;
  std::ifstream in(out);
  const std::string csv((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const auto rows = reports::csv_parse(csv);
  ASSERT_EQ(rows.size(), 10u);  // header + 3 x 3 points
  int invalid = 0;
  for (std::size_t i = 1; i < rows.size(); ++i) invalid += rows[i][3] == "invalid";
  EXPECT_EQ(invalid, 3);  // micro-batch 3 does not divide the per-replica batch
  EXPECT_NE(r.out.find("9 points, 6 valid, 3 invalid"), std::string::npos) << r.out;
}

TEST(SweepCli, MpiRanksSplitThePointsAndGatherTheSameRows) {
  const std::string mpiexec = CLUSTERSIM_MPIEXEC;
  if (mpiexec.empty()) GTEST_SKIP() << "built without MPI";
  const std::string one = temp("one.csv"), two = temp("two.csv");
  ASSERT_EQ(shell(cli() + " sweep " + small_sweep() + " --no-progress -o " + one).code, 0);
  const Result r = shell(mpiexec + " --allow-run-as-root --oversubscribe -n 2 " + cli() + " sweep " + small_sweep() +
                         " --no-progress -j 1 -o " + two);
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_NE(r.out.find("(2 MPI ranks)"), std::string::npos) << r.out;
  std::ifstream a(one), b(two);
  const std::string csv_a((std::istreambuf_iterator<char>(a)), std::istreambuf_iterator<char>());
  const std::string csv_b((std::istreambuf_iterator<char>(b)), std::istreambuf_iterator<char>());
  EXPECT_EQ(rows_without_wall_time(csv_a), rows_without_wall_time(csv_b));
}

TEST(SearchCli, ReportsTheTopConfigurationsWithReasons) {
  const Result r = shell(cli() + " search " + source("scenarios/default.json") + " --top 3 --simulate 8 --no-progress");
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_NE(r.out.find("#1 tp"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("#3 tp"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("why:"), std::string::npos) << r.out;
  const Result j = shell(cli() + " search " + source("scenarios/default.json") + " --top 2 --simulate 4 --no-progress --format json");
  ASSERT_EQ(j.code, 0) << j.out;
  const auto doc = nlohmann::json::parse(j.out);
  EXPECT_EQ(doc["ranked"].size(), 2u);
  EXPECT_EQ(shell(cli() + " search " + source("scenarios/default.json") + " --objective speed").code, 2);
}

TEST(SweepCli, BadSweepFileIsBadInput) {
  const std::string path = temp("bad.json");
  std::ofstream(path) << R"({"name": "x", "base": "missing.json", "axes": [{"path": "a", "values": [1]}]})";
  const Result r = shell(cli() + " sweep " + path);
  EXPECT_EQ(r.code, 2) << r.out;
  EXPECT_NE(r.out.find("base"), std::string::npos) << r.out;
}

}  // namespace
}  // namespace clustersim
