// The reporters chosen by name: console table, JSON and CSV (reports/reporter.hpp, table.hpp,
// json_report.hpp, csv_report.hpp).
#include <algorithm>
#include <sstream>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "clustersim/plan/error.hpp"
#include "clustersim/reports/csv_report.hpp"
#include "clustersim/reports/format.hpp"
#include "clustersim/reports/json_report.hpp"
#include "clustersim/reports/reporter.hpp"
#include "clustersim/reports/table.hpp"
#include "sample_traces.hpp"

namespace clustersim::reports {
namespace {

constexpr std::int64_t GiB = std::int64_t{1} << 30;
constexpr std::int64_t MiB = std::int64_t{1} << 20;

// A prediction with round numbers: 12.3 ms per step, 254.7k tokens/s, MFU 51.2%, 21.75 GiB peak
// (2 + 4 + 2 + 8 + 3 + 1 + 0.5 + 0.25 + 1 GiB) of 80 GiB.
plan::Trace llm_prediction() {
  plan::Trace t = testing::predicted_trace();
  t.scenario = "gpt-small-8xA100";
  t.hardware = "1 x DGX A100";
  auto& s = t.summary;
  s.step_time_s = 0.0123;
  s.tokens_per_s = 254700;
  s.samples_per_s = 124.4;
  s.model_flops_per_step = 1.23e15;
  s.mfu = 0.512;
  s.hfu = 0.583;
  s.compute_time_s = 0.0100;
  s.exposed_comm_s = 0.0013;
  s.comm_time_s = 0.0040;
  s.bubble_fraction = 0.05;
  s.peak_memory_bytes = 21 * GiB + 3 * GiB / 4;
  s.capacity_bytes = 80 * GiB;
  s.comm = {{GroupKind::dp, "all_reduce", 4, 3 * GiB / 2, 0.0035, 0.0010},
            {GroupKind::tp, "all_gather", 48, 96 * MiB, 0.0005, 0.0003}};
  plan::RankMemory& m = t.memory[0];
  m.at_peak = {{TensorRole::weight, 2 * GiB},        {TensorRole::master_weight, 4 * GiB},
               {TensorRole::grad, 2 * GiB},          {TensorRole::optimizer_state, 8 * GiB},
               {TensorRole::activation, 3 * GiB},    {TensorRole::activation_grad, 1 * GiB},
               {TensorRole::workspace, 512 * MiB},   {TensorRole::comm_buffer, 256 * MiB},
               {TensorRole::teacher_weight, 1 * GiB}};
  m.peak_bytes = s.peak_memory_bytes;
  m.capacity_bytes = 80 * GiB;
  m.fits = true;
  return t;
}

ReportContext context() {
  return {"GPT small on 8 A100",
          {{"model", "gpt-small"}, {"GPUs", "8 x A100-80GB"}, {"parallelism", "tp 2, dp 4"}, {"precision", "bf16"}}};
}

std::string table(const plan::Trace& t, const RenderOptions& options = {}) {
  std::ostringstream out;
  write_table_report(t, context(), out, options);
  return out.str();
}

bool contains(const std::string& text, const std::string& what) {
  return text.find(what) != std::string::npos;
}

TEST(TableReport, ShowsThroughputMemoryAndTime) {
  const std::string out = table(llm_prediction());
  EXPECT_TRUE(contains(out, "GPT small on 8 A100"));
  EXPECT_TRUE(contains(out, "gpt-small-8xA100"));
  EXPECT_TRUE(contains(out, "tp 2, dp 4"));
  EXPECT_TRUE(contains(out, "12.3 ms"));        // step time
  EXPECT_TRUE(contains(out, "255k tokens/s"));  // 254700 rounded to 3 digits
  EXPECT_TRUE(contains(out, "51.2%"));          // MFU
  EXPECT_TRUE(contains(out, "58.3%"));          // HFU
  EXPECT_TRUE(contains(out, "peak 21.75 GiB of 80.00 GiB: fits, 58.25 GiB free (27.2% of capacity used)"));
  EXPECT_TRUE(contains(out, "36.8%"));     // optimizer states: 8 / 21.75
  EXPECT_TRUE(contains(out, "615 µs"));    // bubble: 5% of 12.3 ms
  EXPECT_TRUE(contains(out, "1.50 GiB"));  // dp all-reduce bytes per step
  EXPECT_FALSE(contains(out, "\033["));    // no color unless asked
}

TEST(TableReport, ListsEveryRoleWithBytes) {
  const std::string out = table(llm_prediction());
  for (const char* role : {"weights", "master weights", "grads", "optimizer states", "activations", "activation grads",
                           "workspace", "comm buffers", "teacher weights"})
    EXPECT_TRUE(contains(out, role)) << role;
  EXPECT_TRUE(contains(out, "512.00 MiB"));
  EXPECT_TRUE(contains(out, "256.00 MiB"));
  EXPECT_FALSE(contains(out, "client updates"));  // zero and not a main role
  EXPECT_FALSE(contains(out, "unattributed"));    // the roles add up to the peak
}

TEST(TableReport, SaysWhenItDoesNotFit) {
  plan::Trace t = llm_prediction();
  t.memory[0].capacity_bytes = 20 * GiB;
  t.memory[0].fits = false;
  const std::string out = table(t);
  EXPECT_TRUE(contains(out, "DOES NOT FIT, 1.75 GiB over"));
  EXPECT_FALSE(contains(out, ": fits"));
}

TEST(TableReport, IsCompactAndAligned) {
  const std::string out = table(llm_prediction());
  EXPECT_LE(std::count(out.begin(), out.end(), '\n'), 40);
  // The communication columns line up: "bytes" header ends where the values end.
  std::istringstream lines(out);
  std::string line, header;
  std::vector<std::string> comm_rows;
  while (std::getline(lines, line)) {
    if (contains(line, "group") && contains(line, "exposed")) header = line;
    if (contains(line, "all_reduce") || contains(line, "all_gather")) comm_rows.push_back(line);
  }
  ASSERT_FALSE(header.empty());
  ASSERT_EQ(comm_rows.size(), 2u);
  const auto bytes_end = header.find("bytes") + 5;
  EXPECT_EQ(comm_rows[0].substr(bytes_end - 8, 8), "1.50 GiB");
}

TEST(TableReport, ColorOnlyWhenAsked) {
  RenderOptions options;
  options.color = true;
  EXPECT_TRUE(contains(table(llm_prediction(), options), "\033["));
}

TEST(TableReport, PerRankLinesForSeveralRanks) {
  plan::Trace t = testing::measured_trace();
  std::ostringstream out;
  write_table_report(t, {}, out);
  const std::string s = out.str();
  EXPECT_TRUE(contains(s, "clustersim measurement: tiny-gpt"));  // default title
  EXPECT_TRUE(contains(s, "Per rank"));
  EXPECT_TRUE(contains(s, "1.02 KiB"));  // rank 1 peak: 1040 / 1024 KiB
  // Rank 1 busy time over all three steps: (3300 + 500 + 420 + 440) / 3 = 1553.3 ns.
  EXPECT_TRUE(contains(s, "1.55 µs"));
}

TEST(JsonReport, RoundTripsKeyNumbers) {
  std::ostringstream out;
  write_json_report(llm_prediction(), context(), out);
  const auto j = nlohmann::json::parse(out.str());
  EXPECT_EQ(j["schema"], "clustersim.report/1");
  EXPECT_EQ(j["title"], "GPT small on 8 A100");
  EXPECT_EQ(j["facts"]["parallelism"], "tp 2, dp 4");
  EXPECT_EQ(j["source"], "simulated");
  EXPECT_DOUBLE_EQ(j["summary"]["step_time_s"].get<double>(), 0.0123);
  EXPECT_DOUBLE_EQ(j["summary"]["mfu"].get<double>(), 0.512);
  EXPECT_EQ(j["summary"]["memory_margin_bytes"].get<std::int64_t>(), 80 * GiB - (21 * GiB + 3 * GiB / 4));
  EXPECT_DOUBLE_EQ(j["summary"]["bubble_time_s"].get<double>(), 0.05 * 0.0123);
  EXPECT_TRUE(j["summary"]["final_loss"].is_null());
  ASSERT_EQ(j["memory"].size(), 1u);
  EXPECT_EQ(j["memory"][0]["by_role"]["optimizer_state"].get<std::int64_t>(), 8 * GiB);
  EXPECT_EQ(j["memory"][0]["program_name"], "stage0");
  EXPECT_FALSE(j["memory"][0].contains("timeline"));
  EXPECT_FALSE(j.contains("ops"));
  ASSERT_EQ(j["comm"].size(), 2u);
  EXPECT_EQ(j["comm"][0]["group"], "dp");
  EXPECT_EQ(j["comm"][0]["bytes"].get<std::int64_t>(), 3 * GiB / 2);
  ASSERT_EQ(j["ranks"].size(), 1u);
  EXPECT_NEAR(j["ranks"][0]["compute_busy_s"].get<double>(), 350e-9, 1e-15);
}

TEST(JsonReport, TimelineOnlyWhenAsked) {
  RenderOptions options;
  options.include_timeline = true;
  const auto j = report_json(testing::predicted_trace(), {}, options);
  ASSERT_EQ(j["memory"][0]["timeline"].size(), 3u);
  EXPECT_EQ(j["memory"][0]["timeline"][1][1].get<std::int64_t>(), 1000);
  EXPECT_EQ(j["ops"].size(), 6u);
}

TEST(CsvReport, HeaderAndRowMatchAndParseBack) {
  const plan::Trace t = llm_prediction();
  const CsvColumns extra{{"tp", "2"}, {"note", "a, \"quoted\" value"}};
  const std::string text = csv_header(extra) + "\n" + csv_row(t, context(), extra) + "\n";
  const auto rows = csv_parse(text);
  ASSERT_EQ(rows.size(), 2u);
  ASSERT_EQ(rows[0].size(), rows[1].size());
  EXPECT_EQ(rows[0].size(), csv_columns(extra).size());
  EXPECT_EQ(rows[0][0], "tp");
  EXPECT_EQ(rows[1][1], "a, \"quoted\" value");
  const auto column = [&](const std::string& name) {
    const auto it = std::find(rows[0].begin(), rows[0].end(), name);
    EXPECT_NE(it, rows[0].end()) << name;
    return rows[1][static_cast<std::size_t>(it - rows[0].begin())];
  };
  EXPECT_EQ(std::stod(column("step_time_s")), 0.0123);  // exact round trip
  EXPECT_EQ(std::stod(column("tokens_per_s")), 254700.0);
  EXPECT_EQ(column("fits"), "true");
  EXPECT_EQ(column("optimizer_state_bytes"), std::to_string(8 * GiB));
  EXPECT_EQ(column("client_update_bytes"), "0");
  EXPECT_EQ(column("final_loss"), "");
  EXPECT_EQ(column("title"), "GPT small on 8 A100");
}

TEST(CsvReport, HeaderDoesNotDependOnTheTrace) {
  const std::string a = csv_row(testing::predicted_trace(), {});
  const std::string b = csv_row(testing::measured_trace(), {});
  EXPECT_EQ(csv_parse(a)[0].size(), csv_parse(b)[0].size());
  EXPECT_EQ(csv_parse(a)[0].size(), csv_columns().size());
}

TEST(CsvReport, FactsBecomeColumns) {
  std::ostringstream out;
  write_report("csv", llm_prediction(), context(), out);
  const auto rows = csv_parse(out.str());
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[0][0], "model");
  EXPECT_EQ(rows[1][0], "gpt-small");
  EXPECT_EQ(rows[0].size(), rows[1].size());
}

TEST(Registry, ListsTheReporters) {
  EXPECT_EQ(reporter_names(), (std::vector<std::string>{"table", "json", "csv"}));
  EXPECT_EQ(find_reporter("json").name(), "json");
  std::ostringstream out;
  write_report("json", testing::predicted_trace(), {}, out);
  EXPECT_TRUE(nlohmann::json::accept(out.str()));
}

TEST(Registry, UnknownNameListsTheValidOnes) {
  try {
    (void)find_reporter("xml");
    FAIL() << "expected InputError";
  } catch (const InputError& e) {
    EXPECT_EQ(e.json_path(), "format");
    EXPECT_EQ(e.value(), "\"xml\"");
    EXPECT_EQ(e.allowed(), "one of \"table\", \"json\" or \"csv\"");
  }
}

}  // namespace
}  // namespace clustersim::reports
