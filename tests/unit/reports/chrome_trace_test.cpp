// Chrome trace / Perfetto export (reports/chrome_trace.hpp): the output parses as JSON and holds
// the expected metadata, complete and counter events.
#include "clustersim/reports/chrome_trace.hpp"

#include <sstream>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "clustersim/plan/error.hpp"
#include "sample_traces.hpp"

namespace clustersim::reports {
namespace {

using nlohmann::json;

json export_trace(const plan::Trace& t) {
  std::ostringstream out;
  write_chrome_trace(t, out);
  return json::parse(out.str());
}

std::vector<json> events(const json& doc, const std::string& ph, const std::string& name = "") {
  std::vector<json> out;
  for (const auto& e : doc["traceEvents"])
    if (e["ph"] == ph && (name.empty() || e["name"] == name)) out.push_back(e);
  return out;
}

TEST(ChromeTrace, TopLevelShape) {
  const json doc = export_trace(testing::predicted_trace());
  EXPECT_EQ(doc["displayTimeUnit"], "ns");
  ASSERT_TRUE(doc["traceEvents"].is_array());
  EXPECT_EQ(doc["otherData"]["scenario"], "tiny-gpt");
  // 6 op spans + 1 comm span; 2 process + 3 threads x 2 metadata; 3 memory samples.
  EXPECT_EQ(events(doc, "X").size(), 7u);
  EXPECT_EQ(events(doc, "M").size(), 8u);
  EXPECT_EQ(events(doc, "C").size(), 3u);
  EXPECT_EQ(doc["traceEvents"].size(), 18u);
}

TEST(ChromeTrace, CommSpansOfOtherNoiseSamplesAreLeftOut) {
  // A prediction that kept other rank-noise samples' communication as step 1 (keep_noise_comm):
  // the export draws the ops' step only, so still 6 op spans and 1 comm span.
  plan::Trace t = testing::predicted_trace();
  plan::CommSpan other = t.comm.at(0);
  other.step = 1;
  other.end_ns += 500;
  t.comm.push_back(other);
  EXPECT_EQ(events(export_trace(t), "X").size(), 7u);
}

TEST(ChromeTrace, ProcessAndThreadNames) {
  const json doc = export_trace(testing::predicted_trace());
  const auto procs = events(doc, "M", "process_name");
  ASSERT_EQ(procs.size(), 1u);
  EXPECT_EQ(procs[0]["pid"], 0);
  EXPECT_EQ(procs[0]["args"]["name"], "rank 0 (stage0)");
  std::map<std::int64_t, std::string> threads;
  for (const auto& e : events(doc, "M", "thread_name")) threads[e["tid"].get<std::int64_t>()] = e["args"]["name"];
  ASSERT_EQ(threads.size(), 3u);
  EXPECT_EQ(threads[0], "compute");
  EXPECT_EQ(threads[1], "comm_dp");
  EXPECT_EQ(threads[1000], "comm dp");
}

TEST(ChromeTrace, CompleteEventsInMicroseconds) {
  const json doc = export_trace(testing::predicted_trace());
  std::map<std::string, json> by_name;
  for (const auto& e : events(doc, "X")) by_name[e["name"]] = e;
  const json& gemm = by_name.at("bwd_gemm");  // [170, 300] ns on the compute stream
  EXPECT_EQ(gemm["cat"], "gemm");
  EXPECT_EQ(gemm["pid"], 0);
  EXPECT_EQ(gemm["tid"], 0);
  EXPECT_DOUBLE_EQ(gemm["ts"].get<double>(), 0.17);
  EXPECT_DOUBLE_EQ(gemm["dur"].get<double>(), 0.13);
  EXPECT_EQ(gemm["args"]["op"], 3);
  EXPECT_EQ(gemm["args"]["kind"], "gemm");
  EXPECT_EQ(gemm["args"]["layer"], 0);
  EXPECT_EQ(gemm["args"]["microbatch"], 0);
  EXPECT_DOUBLE_EQ(gemm["args"]["flops"].get<double>(), 4e9);
  EXPECT_EQ(gemm["args"]["bytes"], 2000);
  EXPECT_EQ(gemm["args"]["step"], 0);
  const json& ar = by_name.at("grad_ar");  // [250, 350] ns on comm_dp
  EXPECT_EQ(ar["tid"], 1);
  EXPECT_EQ(ar["cat"], "comm:dp:all_reduce");
  EXPECT_DOUBLE_EQ(ar["ts"].get<double>(), 0.25);
  EXPECT_DOUBLE_EQ(ar["dur"].get<double>(), 0.1);
  const json& span = by_name.at("all_reduce dp");  // the CommSpan
  EXPECT_EQ(span["cat"], "comm");
  EXPECT_EQ(span["tid"], 1000);
  EXPECT_EQ(span["args"]["bytes"], 4096);
  EXPECT_EQ(span["args"]["group_id"], 3);
}

TEST(ChromeTrace, LargeTimesStayExact) {
  plan::Trace t = testing::predicted_trace();
  t.ops[0].start_ns = 123456789012;  // 123456.789012 us
  t.ops[0].end_ns = 123456789999;
  const json doc = export_trace(t);
  for (const auto& e : events(doc, "X"))
    if (e["name"] == "fwd_gemm") {
      EXPECT_DOUBLE_EQ(e["ts"].get<double>(), 123456789.012);
      EXPECT_DOUBLE_EQ(e["dur"].get<double>(), 0.987);
    }
}

TEST(ChromeTrace, MemoryCounters) {
  const json doc = export_trace(testing::predicted_trace());
  const auto counters = events(doc, "C", "memory");
  ASSERT_EQ(counters.size(), 3u);
  EXPECT_EQ(counters[1]["pid"], 0);
  EXPECT_DOUBLE_EQ(counters[1]["ts"].get<double>(), 0.15);
  EXPECT_EQ(counters[1]["args"]["bytes"], 1000);
}

TEST(ChromeTrace, OverlappingSpansOfOneStreamGetTheirOwnThread) {
  plan::Trace t = testing::predicted_trace();
  testing::add_span(t, 0, 1, 0, 1, 120, 200);  // overlaps fwd/attn on the compute stream
  const json doc = export_trace(t);
  std::int64_t overflow_tid = -1;
  for (const auto& e : events(doc, "X"))
    if (e["args"].contains("step") && e["args"]["step"] == 1) overflow_tid = e["tid"];
  EXPECT_GE(overflow_tid, 1000);
  bool named = false;
  for (const auto& e : events(doc, "M", "thread_name"))
    if (e["tid"] == overflow_tid) named = e["args"]["name"] == "compute #2";
  EXPECT_TRUE(named);
}

TEST(ChromeTrace, OneProcessPerMeasuredRank) {
  const json doc = export_trace(testing::measured_trace());
  EXPECT_EQ(events(doc, "M", "process_name").size(), 2u);
  EXPECT_EQ(events(doc, "X").size(), 36u);  // 2 ranks x 3 steps x 6 ops
}

TEST(ChromeTrace, EscapesNames) {
  plan::Trace t = testing::predicted_trace();
  t.programs[0].ops[0].name = "gemm \"qkv\"\n<x>";
  const json doc = export_trace(t);
  bool found = false;
  for (const auto& e : events(doc, "X")) found = found || e["name"] == "gemm \"qkv\"\n<x>";
  EXPECT_TRUE(found);
}

TEST(ChromeTrace, MalformedTraceIsAnInputError) {
  plan::Trace t = testing::predicted_trace();
  t.ops[0].op = 99;
  std::ostringstream out;
  EXPECT_THROW(write_chrome_trace(t, out), InputError);
}

}  // namespace
}  // namespace clustersim::reports
