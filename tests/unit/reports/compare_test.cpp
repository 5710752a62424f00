// Predicted vs measured (reports/compare.hpp) on the hand-made traces of sample_traces.hpp, where
// every expected number is worked out in the comments.
#include "clustersim/reports/compare.hpp"

#include <sstream>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "clustersim/plan/error.hpp"
#include "sample_traces.hpp"

namespace clustersim::reports {
namespace {

using testing::measured_trace;
using testing::predicted_trace;

const MetricComparison& metric(const std::vector<MetricComparison>& v, const std::string& name) {
  for (const auto& m : v)
    if (m.name == name) return m;
  throw std::runtime_error("no metric " + name);
}

const Check& check(const Comparison& c, const std::string& prefix) {
  for (const auto& k : c.checks)
    if (k.name.rfind(prefix, 0) == 0) return k;
  throw std::runtime_error("no check " + prefix);
}

TEST(RelativeError, Conventions) {
  EXPECT_DOUBLE_EQ(relative_error(110, 100), 0.1);
  EXPECT_DOUBLE_EQ(relative_error(90, 100), -0.1);
  EXPECT_EQ(relative_error(0, 0), 0.0);
  EXPECT_TRUE(std::isinf(relative_error(5, 0)));
}

TEST(Compare, SkipsWarmupAndAveragesSteps) {
  const Comparison c = compare(predicted_trace(), measured_trace());
  EXPECT_EQ(c.steps_used, (std::vector<std::int32_t>{1, 2}));
  EXPECT_EQ(c.steps_skipped, 1);
  // Step windows 470 and 490 ns -> 480; predicted 400.
  EXPECT_NEAR(c.step_time.measured, 480e-9, 1e-15);
  EXPECT_NEAR(c.step_time.predicted, 400e-9, 1e-15);
  EXPECT_NEAR(c.step_time.error, -80.0 / 480.0, 1e-12);
}

TEST(Compare, PerClassTimesAndErrors) {
  const Comparison c = compare(predicted_trace(), measured_trace());
  // gemm per rank-step: 110+140, 130+160, 130+140, 150+160 -> mean 280; predicted 100+130 = 230.
  EXPECT_NEAR(metric(c.classes, "gemm").measured, 280e-9, 1e-15);
  EXPECT_NEAR(metric(c.classes, "gemm").predicted, 230e-9, 1e-15);
  EXPECT_NEAR(metric(c.classes, "gemm").error, -50.0 / 280.0, 1e-12);
  EXPECT_NEAR(metric(c.classes, "attention").error, -10.0 / 60.0, 1e-12);
  EXPECT_NEAR(metric(c.classes, "memory").error, 0.0, 1e-12);
  EXPECT_NEAR(metric(c.classes, "optimizer").error, 0.0, 1e-12);
  // All-reduce: rank 0 takes 120, rank 1 100 -> 110; predicted 100.
  EXPECT_NEAR(metric(c.classes, "comm:dp:all_reduce").measured, 110e-9, 1e-15);
  EXPECT_NEAR(metric(c.classes, "comm:dp:all_reduce").error, -10.0 / 110.0, 1e-12);
  // Idle: 470-380, 470-420, 490-400, 490-440 -> 90, 50, 90, 50 -> 70; predicted 400-350 = 50.
  EXPECT_NEAR(metric(c.classes, "idle").measured, 70e-9, 1e-15);
  EXPECT_NEAR(metric(c.classes, "idle").predicted, 50e-9, 1e-15);
  EXPECT_EQ(c.classes.back().name, "idle");
  EXPECT_EQ(c.classes.front().name, "gemm");
  // Per group kind.
  ASSERT_EQ(c.comm_groups.size(), 1u);
  EXPECT_EQ(c.comm_groups[0].name, "dp");
  EXPECT_NEAR(c.comm_groups[0].error, -10.0 / 110.0, 1e-12);
}

TEST(Compare, WarmupCanBeKept) {
  CompareOptions options;
  options.warmup_steps = 0;
  const Comparison c = compare(predicted_trace(), measured_trace(), options);
  EXPECT_EQ(c.steps_used.size(), 3u);
  // Step time is the median window: windows 4700, 470, 490 -> 490 (their mean would be 5660 / 3).
  EXPECT_NEAR(c.step_time.measured, 490e-9, 1e-15);
  // gemm: step 0 is 1100 + 1400 = 2500 on both ranks: (2500 + 2500 + 250 + 290 + 270 + 310) / 6 = 1020.
  EXPECT_NEAR(metric(c.classes, "gemm").measured, 1020e-9, 1e-15);
}

// The measured trace with the communication spans the executor records (one per all-reduce op span).
plan::Trace measured_with_comm_spans(const char* type0 = "all_reduce", const char* type1 = "all_reduce") {
  plan::Trace t = measured_trace();
  for (const auto& s : t.ops) {
    if (s.op != 4) continue;
    plan::CommSpan c;
    c.rank = s.rank;
    c.group = GroupKind::dp;
    c.group_id = 3;
    c.type = s.rank == 0 ? type0 : type1;
    c.bytes = 4096;
    c.step = s.step;
    c.start_ns = s.start_ns;
    c.end_ns = s.end_ns;
    t.comm.push_back(c);
  }
  return t;
}

TEST(Compare, CommunicationIsSplitIntoTransferAndWait) {
  const Comparison c = compare(predicted_trace(), measured_with_comm_spans());
  // Step 1: rank 0 arrives at +300, rank 1 at +320, both end at +420: transfer 100 each, rank 0
  // waited 20. Step 2 likewise (+320, +340, end +440). Transfer 100 per rank and step; wait
  // (20 + 0) / 2 = 10. Predicted: the comm span [250, 350] is the op span: transfer 100, wait 0.
  ASSERT_EQ(c.comm_groups.size(), 1u);
  EXPECT_NEAR(c.comm_groups[0].measured, 100e-9, 1e-15);
  EXPECT_NEAR(c.comm_groups[0].predicted, 100e-9, 1e-15);
  EXPECT_NEAR(c.comm_groups[0].error, 0.0, 1e-12);
  ASSERT_EQ(c.comm_waits.size(), 1u);
  EXPECT_NEAR(c.comm_waits[0].measured, 10e-9, 1e-15);
  EXPECT_NEAR(c.comm_waits[0].predicted, 0.0, 1e-15);
  // The op class keeps the whole op time: (120 + 100) / 2 = 110.
  EXPECT_NEAR(metric(c.classes, "comm:dp:all_reduce").measured, 110e-9, 1e-15);
  // The check is on the transfer.
  EXPECT_NEAR(check(c, "comm dp").measured, 100e-9, 1e-15);
  EXPECT_TRUE(check(c, "comm dp").passed);
  const nlohmann::json j = comparison_json(c);
  EXPECT_NEAR(j["comm_waits"][0]["measured"].get<double>(), 10e-9, 1e-15);
}

TEST(Compare, PointToPointOnATwoMemberGroupMatchesSendWithRecv) {
  // Rank 0 sends (arrives +300 in step 1, +320 in step 2), rank 1 receives (+320, +340); both end
  // together: the transfer starts when the later one is posted, 100 ns, as for the collective.
  const Comparison c = compare(predicted_trace(), measured_with_comm_spans("send", "recv"));
  EXPECT_NEAR(c.comm_groups[0].measured, 100e-9, 1e-15);
  EXPECT_NEAR(c.comm_waits[0].measured, 10e-9, 1e-15);
  // Two sends do not match each other: each span counts whole, (120 + 100) / 2 = 110.
  const Comparison u = compare(predicted_trace(), measured_with_comm_spans("send", "send"));
  EXPECT_NEAR(u.comm_groups[0].measured, 110e-9, 1e-15);
}

TEST(Compare, TransferIsTheMedianOverSteps) {
  // Step 2's all-reduce made 1000 ns longer on both ranks: per-step transfers 100 and 1100 -> median
  // of two = 600; with a third step equal to step 1 the median is back to 100.
  plan::Trace m = measured_with_comm_spans();
  for (auto& s : m.comm)
    if (s.step == 2) s.end_ns += 1000;
  EXPECT_NEAR(compare(predicted_trace(), m).comm_groups[0].measured, 600e-9, 1e-15);
  for (const auto& s : measured_with_comm_spans().comm)
    if (s.step == 1) {
      plan::CommSpan x = s;
      x.step = 3;
      m.comm.push_back(x);
    }
  for (const auto& o : measured_trace().ops)
    if (o.step == 1) {
      plan::OpSpan x = o;
      x.step = 3;
      m.ops.push_back(x);
    }
  EXPECT_NEAR(compare(predicted_trace(), m).comm_groups[0].measured, 100e-9, 1e-15);
}

TEST(Compare, APredictionsNoiseSamplesGiveTheMedianTransfer) {
  // The prediction's all-reduce has its comm span in step 0 as its op span [250, 350] (transfer
  // 100); two more noise samples (engine::SimulationOptions::keep_noise_comm) have transfers of
  // 400 and 150: the transfer is their median, 150; the wait stays step 0's, 0.
  plan::Trace p = predicted_trace();
  ASSERT_EQ(p.comm.size(), 1u);
  for (const auto& s : predicted_trace().ops) {
    if (s.op != 4) continue;
    for (const std::int32_t step : {1, 2}) {
      plan::CommSpan c;
      c.rank = s.rank;
      c.group = GroupKind::dp;
      c.group_id = 3;
      c.type = "all_reduce";
      c.bytes = 4096;
      c.step = step;
      c.start_ns = s.start_ns;
      c.end_ns = s.end_ns + (step == 1 ? 300 : 50);
      p.comm.push_back(c);
    }
  }
  const Comparison c = compare(p, measured_with_comm_spans());
  EXPECT_NEAR(c.comm_groups[0].predicted, 150e-9, 1e-15);
  EXPECT_NEAR(c.comm_waits[0].predicted, 0.0, 1e-15);
  EXPECT_NEAR(c.comm_groups[0].measured, 100e-9, 1e-15);
}

TEST(Compare, TooFewStepsAfterWarmup) {
  CompareOptions options;
  options.warmup_steps = 3;
  EXPECT_THROW(compare(predicted_trace(), measured_trace(), options), InputError);
}

TEST(Compare, PassFailAgainstTolerances) {
  // Defaults: step time -16.7% fails 10%; memory worst -3.8% (rank 1: 1000 vs 1040) passes 5%;
  // dp comm -9.1% passes 15%.
  const Comparison c = compare(predicted_trace(), measured_trace());
  EXPECT_FALSE(c.passed);
  EXPECT_FALSE(check(c, "step time").passed);
  EXPECT_EQ(check(c, "peak memory").name, "peak memory (rank 1)");
  EXPECT_NEAR(check(c, "peak memory").error, -40.0 / 1040.0, 1e-12);
  EXPECT_TRUE(check(c, "peak memory").passed);
  EXPECT_TRUE(check(c, "comm dp").passed);
  EXPECT_EQ(c.checks.size(), 3u);

  CompareOptions loose;
  loose.step_time_tolerance = 0.20;
  EXPECT_TRUE(compare(predicted_trace(), measured_trace(), loose).passed);

  CompareOptions strict = loose;
  strict.memory_tolerance = 0.03;  // 3.8% now fails
  const Comparison s = compare(predicted_trace(), measured_trace(), strict);
  EXPECT_FALSE(s.passed);
  EXPECT_FALSE(check(s, "peak memory").passed);

  CompareOptions comm = loose;
  comm.comm_tolerance = 0.05;  // 9.1% now fails
  EXPECT_FALSE(compare(predicted_trace(), measured_trace(), comm).passed);

  CompareOptions ignore_small = comm;
  ignore_small.comm_min_share = 0.5;  // 110 ns is under half of 480 ns: not checked
  const Comparison i = compare(predicted_trace(), measured_trace(), ignore_small);
  EXPECT_TRUE(i.passed);
  EXPECT_EQ(i.checks.size(), 2u);
}

TEST(Compare, MachineProbeTellsAChangedMachineFromAModelError) {
  // Calibration: all-reduce 400 us, GEMM 300 us. The run's probes: before 420 / 310, after 1000 /
  // 290. The all-reduce check takes the run's probe furthest from the calibration's (1000 us:
  // error (400 - 1000) / 1000 = -60%, beyond 25%). For the GEMM, 290 is further than 310 in ratio
  // terms (|ln(290/300)| = 0.0339 > |ln(310/300)| = 0.0328): error (300 - 290) / 290 = +3.4%.
  CompareOptions o;
  o.step_time_tolerance = 0.20;  // the sample traces' step time is -16.7%
  o.calibration_probe = plan::MachineProbe{1 << 20, 400e3, 300e3};
  plan::Trace measured = measured_trace();
  measured.extra["machine_probe"] = {{"before", {{"bytes", 1 << 20}, {"all_reduce_ns", 420e3}, {"gemm_ns", 310e3}}},
                                     {"after", {{"bytes", 1 << 20}, {"all_reduce_ns", 1000e3}, {"gemm_ns", 290e3}}}};
  const Comparison c = compare(predicted_trace(), measured, o);
  EXPECT_FALSE(c.passed);
  EXPECT_FALSE(check(c, "machine: all-reduce probe").passed);
  EXPECT_NEAR(check(c, "machine: all-reduce probe").measured, 1000e-6, 1e-15);
  EXPECT_NEAR(check(c, "machine: all-reduce probe").error, -0.6, 1e-12);
  EXPECT_TRUE(check(c, "machine: GEMM probe").passed);
  EXPECT_NEAR(check(c, "machine: GEMM probe").measured, 290e-6, 1e-15);
  EXPECT_TRUE(check(c, "comm dp").passed);  // the model's checks are unchanged

  // A steady machine passes; without a calibration probe there is no machine check.
  measured.extra["machine_probe"]["after"]["all_reduce_ns"] = 380e3;
  EXPECT_TRUE(compare(predicted_trace(), measured, o).passed);
  o.calibration_probe.reset();
  EXPECT_EQ(compare(predicted_trace(), measured, o).checks.size(), 3u);
}

TEST(Compare, MemoryPerRank) {
  const Comparison c = compare(predicted_trace(), measured_trace());
  ASSERT_EQ(c.memory.size(), 2u);
  EXPECT_EQ(c.memory[0].measured_rank, 0);
  EXPECT_EQ(c.memory[0].predicted_rank, 0);
  EXPECT_EQ(c.memory[0].error, 0.0);
  EXPECT_EQ(c.memory[1].measured_rank, 1);
  EXPECT_EQ(c.memory[1].predicted_rank, 0);
  EXPECT_EQ(c.memory[1].measured_bytes, 1040);
}

TEST(Compare, OpByOpSortedByAbsoluteError) {
  const Comparison c = compare(predicted_trace(), measured_trace());
  ASSERT_EQ(c.ops.size(), 6u);
  // op 0: rank 0 (110 + 130) / 2 = 120, rank 1 (130 + 150) / 2 = 140 -> 130 vs 100: 30 ns off.
  EXPECT_EQ(c.ops[0].op, 0);
  EXPECT_EQ(c.ops[0].name, "fwd_gemm");
  EXPECT_DOUBLE_EQ(c.ops[0].measured_ns, 130.0);
  EXPECT_DOUBLE_EQ(c.ops[0].predicted_ns, 100.0);
  EXPECT_NEAR(c.ops[0].error, -30.0 / 130.0, 1e-12);
  // op 3: (140 + 160) / 2 = 150 vs 130: 20 ns. Then ops 1 and 4 (10 ns each, program order), then 2 and 5 (0).
  EXPECT_EQ(c.ops[1].op, 3);
  EXPECT_EQ(c.ops[2].op, 1);
  EXPECT_EQ(c.ops[3].op, 4);
  EXPECT_DOUBLE_EQ(c.ops[3].measured_ns, 110.0);
  EXPECT_EQ(c.ops[4].op, 2);
  EXPECT_EQ(c.ops[5].op, 5);
  EXPECT_EQ(c.ops_only_predicted, 0);
  EXPECT_EQ(c.ops_only_measured, 0);
}

// Two pipeline stages: programs 0 and 1. The prediction records ranks 0 (program 0) and 3
// (program 1); the measurement ranks 0..3 with programs 0, 0, 1, 1.
plan::Trace two_stage(bool measured) {
  plan::Trace t;
  t.scenario = "tiny-gpt";
  t.source = measured ? plan::TraceSource::measured : plan::TraceSource::simulated;
  t.programs = {testing::stage_program(0, "stage0"), testing::stage_program(1, "stage1")};
  if (measured) {
    t.ranks = {0, 1, 2, 3};
    t.program_of_rank = {0, 0, 1, 1};
    // One warm-up step, then one step: stage-0 ranks take 100 ns per compute op, stage-1 ranks 200.
    for (std::int32_t step = 0; step < 2; ++step)
      for (std::int32_t r = 0; r < 4; ++r) {
        const std::int64_t d = r < 2 ? 100 : 200;
        testing::add_stage_step(t, r, step, step * 10000, {d, d, d, d}, 0, 10, 10);
      }
  } else {
    t.ranks = {0, 3};
    t.program_of_rank = {0, 1};
    testing::add_stage_step(t, 0, 0, 0, {100, 100, 100, 100}, 0, 10, 10);
    testing::add_stage_step(t, 3, 0, 0, {150, 150, 150, 150}, 0, 10, 10);
  }
  return t;
}

TEST(Compare, MapsMeasuredRanksToPredictedOnesByProgram) {
  const Comparison c = compare(two_stage(false), two_stage(true));
  const std::vector<std::pair<std::int32_t, std::int32_t>> expected{{0, 0}, {1, 0}, {2, 3}, {3, 3}};
  EXPECT_EQ(c.rank_map, expected);
  // gemm (ops 0 and 3): measured (200 + 200 + 400 + 400) / 4 = 300; predicted (200 + 200 + 300 + 300) / 4 = 250.
  EXPECT_NEAR(metric(c.classes, "gemm").measured, 300e-9, 1e-15);
  EXPECT_NEAR(metric(c.classes, "gemm").predicted, 250e-9, 1e-15);
  // Op by op: program 1's ops 0..3 are 50 ns off, program 0's are exact.
  ASSERT_FALSE(c.ops.empty());
  EXPECT_EQ(c.ops[0].program, 1);
  EXPECT_DOUBLE_EQ(c.ops[0].measured_ns, 200.0);
  EXPECT_DOUBLE_EQ(c.ops[0].predicted_ns, 150.0);
}

TEST(Compare, PrefersTheSameRankWhenPredicted) {
  plan::Trace predicted = two_stage(false);
  predicted.ranks = {0, 1};
  predicted.program_of_rank = {0, 0};
  for (auto& s : predicted.ops)
    if (s.rank == 3) s.rank = 1;
  plan::Trace measured = two_stage(true);
  measured.ranks = {0, 1};
  measured.program_of_rank = {0, 0};
  measured.ops.erase(std::remove_if(measured.ops.begin(), measured.ops.end(), [](const auto& s) { return s.rank > 1; }),
                     measured.ops.end());
  const Comparison c = compare(predicted, measured);
  const std::vector<std::pair<std::int32_t, std::int32_t>> expected{{0, 0}, {1, 1}};
  EXPECT_EQ(c.rank_map, expected);
}

TEST(Compare, RejectsTracesOfAnotherScenario) {
  plan::Trace measured = measured_trace();
  measured.scenario = "other";
  try {
    compare(predicted_trace(), measured);
    FAIL() << "expected InputError";
  } catch (const InputError& e) {
    EXPECT_EQ(e.json_path(), "measured.scenario");
    EXPECT_NE(e.allowed().find("tiny-gpt"), std::string::npos);
  }
}

TEST(Compare, RejectsAnotherPlan) {
  plan::Trace measured = measured_trace();
  measured.programs[0].ops.pop_back();
  measured.ops.erase(std::remove_if(measured.ops.begin(), measured.ops.end(), [](const auto& s) { return s.op == 5; }),
                     measured.ops.end());
  EXPECT_THROW(compare(predicted_trace(), measured), InputError);
}

TEST(Compare, RejectsAProgramThePredictionDoesNotRecord) {
  plan::Trace predicted = two_stage(false);
  predicted.ranks = {0};
  predicted.program_of_rank = {0};
  predicted.ops.erase(
      std::remove_if(predicted.ops.begin(), predicted.ops.end(), [](const auto& s) { return s.rank == 3; }),
      predicted.ops.end());
  EXPECT_THROW(compare(predicted, two_stage(true)), InputError);
}

TEST(CompareRender, TableJsonMarkdown) {
  const Comparison c = compare(predicted_trace(), measured_trace());
  std::ostringstream table, md, js;
  write_comparison("table", c, table);
  write_comparison("markdown", c, md);
  write_comparison("json", c, js);
  EXPECT_NE(table.str().find("FAIL"), std::string::npos);
  EXPECT_NE(table.str().find("-16.7%"), std::string::npos);  // step time error
  EXPECT_NE(table.str().find("fwd_gemm"), std::string::npos);
  EXPECT_NE(md.str().find("| gemm | 230 ns | 280 ns | -17.9% |"), std::string::npos);
  EXPECT_NE(md.str().find("**Result: FAIL**"), std::string::npos);
  const auto j = nlohmann::json::parse(js.str());
  EXPECT_EQ(j["schema"], "clustersim.comparison/1");
  EXPECT_FALSE(j["passed"].get<bool>());
  EXPECT_NEAR(j["step_time"]["measured"].get<double>(), 480e-9, 1e-15);
  EXPECT_EQ(j["ops"][0]["name"], "fwd_gemm");
  EXPECT_EQ(j["rank_map"][1][0], 1);
  EXPECT_THROW(write_comparison("pdf", c, js), InputError);
  EXPECT_EQ(comparison_format_names(), (std::vector<std::string>{"table", "json", "markdown"}));
}

TEST(CompareRender, NonFiniteErrorsAreNullInJson) {
  Comparison c;
  c.step_time = {"step time", 1.0, 0.0, relative_error(1.0, 0.0)};
  const auto j = comparison_json(c);
  EXPECT_TRUE(j["step_time"]["error"].is_null());
}

}  // namespace
}  // namespace clustersim::reports
