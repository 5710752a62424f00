// Sweeps: file parsing with JSON paths in errors, deterministic grid and random expansion, invalid
// points kept as rows, and output whose header and rows agree.
#include <gtest/gtest.h>

#include "clustersim/explore/sweep.hpp"
#include "clustersim/reports/format.hpp"

namespace clustersim::explore {
namespace {

using nlohmann::json;

json base_scenario() {
  return json::parse(R"({
    "name": "sweep-base",
    "cluster": {"nodes": 1, "gpus_per_node": 4, "gpu": "A100-80GB"},
    "model": {"architecture": {"preset": "gpt3-125m", "layers": 2}, "seq_len": 256},
    "training": {"global_batch": 16, "micro_batch": 2}
  })");
}

json sweep(json axes, const char* mode = "grid") {
  return {{"name", "s"}, {"base", base_scenario()}, {"mode", mode}, {"axes", std::move(axes)}};
}

TEST(Sweep, GridIsTheCartesianProductLastAxisFastest) {
  const SweepSpec spec = parse_sweep(sweep(json::parse(R"([{"path": "parallelism.tp", "values": [1, 2]},
                                                            {"path": "training.micro_batch", "values": [1, 2, 4]}])")),
                                     ".");
  const auto points = expand(spec);
  ASSERT_EQ(points.size(), 6u);
  EXPECT_EQ(points[0].values, (std::vector<json>{1, 1}));
  EXPECT_EQ(points[1].values, (std::vector<json>{1, 2}));
  EXPECT_EQ(points[3].values, (std::vector<json>{2, 1}));
  EXPECT_EQ(points[5].scenario["training"]["micro_batch"], 4);
  EXPECT_EQ(points[5].scenario["parallelism"]["tp"], 2);
}

TEST(Sweep, RandomSamplesAreSeededAndInRange) {
  json j = sweep(json::parse(R"([{"path": "training.micro_batch", "range": {"min": 1, "max": 8, "integer": true, "log": true}},
                                 {"path": "training.precision", "values": ["bf16", "fp16"]}])"),
                 "random");
  j["samples"] = 50;
  j["seed"] = 7;
  const auto a = expand(parse_sweep(j, ".")), b = expand(parse_sweep(j, "."));
  ASSERT_EQ(a.size(), 50u);
  for (std::size_t i = 0; i < a.size(); ++i) {
    EXPECT_EQ(a[i].values, b[i].values);
    const auto mb = a[i].values[0].get<std::int64_t>();
    EXPECT_GE(mb, 1);
    EXPECT_LE(mb, 8);
  }
  j["seed"] = 8;
  const auto c = expand(parse_sweep(j, "."));
  bool differs = false;
  for (std::size_t i = 0; i < a.size(); ++i) differs |= a[i].values != c[i].values;
  EXPECT_TRUE(differs);
}

TEST(Sweep, InvalidPointsAreReportedNotDropped) {
  // micro-batch 3 does not divide 16 / dp: that point is invalid and names the field.
  const SweepSpec spec = parse_sweep(sweep(json::parse(R"([{"path": "training.micro_batch", "values": [1, 3, 4]}])")), ".");
  EvaluateOptions o;
  o.jobs = 2;
  const auto results = evaluate(expand(spec), o);
  ASSERT_EQ(results.size(), 3u);
  EXPECT_TRUE(results[0].ok);
  EXPECT_FALSE(results[1].ok);
  EXPECT_NE(results[1].error.find("global_batch"), std::string::npos) << results[1].error;
  EXPECT_TRUE(results[2].ok);
  EXPECT_LT(results[2].trace.summary.step_time_s, results[0].trace.summary.step_time_s * 1.5);
  const auto rows = reports::csv_parse(results_csv(spec, results));
  ASSERT_EQ(rows.size(), 4u);
  for (const auto& row : rows) EXPECT_EQ(row.size(), rows[0].size());
  EXPECT_EQ(rows[2][rows[0].size() > 0 ? 2 : 0], "invalid");
}

TEST(Sweep, PartitionsCoverEveryPointOnce) {
  const SweepSpec spec = parse_sweep(sweep(json::parse(R"([{"path": "training.micro_batch", "values": [1, 2, 4, 8, 16]}])")), ".");
  const auto points = expand(spec);
  std::vector<int> seen(points.size(), 0);
  for (int part = 0; part < 3; ++part) {
    EvaluateOptions o;
    o.part = part;
    o.parts = 3;
    o.jobs = 1;
    for (const auto& r : evaluate(points, o)) seen[static_cast<std::size_t>(r.index)]++;
  }
  for (int s : seen) EXPECT_EQ(s, 1);
}

TEST(Sweep, ResultsRoundTripThroughJson) {
  const SweepSpec spec = parse_sweep(sweep(json::parse(R"([{"path": "training.micro_batch", "values": [2, 3]}])")), ".");
  EvaluateOptions o;
  const auto results = evaluate(expand(spec), o);
  for (const auto& r : results) {
    const PointResult back = point_result_from_json(json::parse(to_json(r).dump()));
    EXPECT_EQ(back.ok, r.ok);
    EXPECT_EQ(back.error, r.error);
    EXPECT_EQ(back.trace.summary.step_time_s, r.trace.summary.step_time_s);
  }
}

TEST(Sweep, BadFilesNameThePath) {
  struct Case {
    json j;
    std::string path;
  };
  const std::vector<Case> cases = {
      {json{{"name", "x"}, {"base", base_scenario()}, {"axes", json::array()}}, "axes"},
      {json{{"name", "x"}, {"base", 3}, {"axes", json::parse(R"([{"path": "a", "values": [1]}])")}}, "base"},
      {sweep(json::parse(R"([{"path": "a"}])")), "axes[0]"},
      {sweep(json::parse(R"([{"path": "a", "values": []}])")), "axes[0].values"},
      {sweep(json::parse(R"([{"path": "a", "range": {"min": 1, "max": 2}}])")), "axes[0].range"},
      {sweep(json::parse(R"([{"path": "a", "values": [1], "valuez": 2}])")), "axes[0].valuez"},
      {json{{"name", "x"}, {"base", base_scenario()}, {"mode", "grid"}, {"mode2", 1},
            {"axes", json::parse(R"([{"path": "a", "values": [1]}])")}},
       "mode2"},
      {json{{"name", "x"}, {"base", base_scenario()}, {"mode", "random"}, {"axes", json::parse(R"([{"path": "a", "values": [1]}])")}},
       "samples"},
  };
  for (const auto& c : cases) {
    try {
      parse_sweep(c.j, ".");
      ADD_FAILURE() << "accepted " << c.j.dump();
    } catch (const InputError& e) {
      EXPECT_EQ(e.json_path(), c.path) << e.what();
    }
  }
}

}  // namespace
}  // namespace clustersim::explore
