// Tests of the view models in gui/src/core: summary_model.hpp, memory_model.hpp,
// timeline_model.hpp, comm_model.hpp, on hand-made traces whose numbers are worked out by hand,
// and on a real prediction of the small scenario.
#include <gtest/gtest.h>

#include "clustersim/reports/analysis.hpp"
#include "core/comm_model.hpp"
#include "core/memory_model.hpp"
#include "core/summary_model.hpp"
#include "core/timeline_model.hpp"
#include "gui_test_support.hpp"

namespace clustersim::gui {
namespace {

// One program: compute stream 0 with ops 0 (gemm), 1 (attention), 2 (memory); comm stream 1 with
// op 3 (dp all-reduce). Rank 0 and rank 1 run it. Rank 0: op0 [100, 200], op1 [200, 250],
// op2 [250, 260], op3 [220, 320]. Rank 1: the same shifted by 5 ns, in step 0.
plan::Trace hand_trace() {
  plan::Trace t;
  t.scenario = "hand";
  t.ranks = {0, 1};
  t.program_of_rank = {0, 0};
  plan::ProgramInfo p;
  p.name = "stage0";
  p.streams = {"compute", "comm_dp"};
  const auto op = [&](int id, const char* name, OpKind kind, const char* cls, std::int16_t stream) {
    plan::OpInfo o;
    o.op = id;
    o.name = name;
    o.kind = kind;
    o.op_class = cls;
    o.stream = stream;
    o.layer = 3;
    o.microbatch = 1;
    p.ops.push_back(o);
  };
  op(0, "fc1", OpKind::gemm, "gemm", 0);
  op(1, "attn", OpKind::attention, "attention", 0);
  op(2, "ln", OpKind::norm, "memory", 0);
  op(3, "grad_ar", OpKind::collective, "comm:dp:all_reduce", 1);
  t.programs = {p};
  for (int r = 0; r < 2; ++r) {
    const std::int64_t s = 5 * r;
    t.ops.push_back({r, 0, 0, 0, 100 + s, 200 + s});
    t.ops.push_back({r, 1, 0, 0, 200 + s, 250 + s});
    t.ops.push_back({r, 2, 0, 0, 250 + s, 260 + s});
    t.ops.push_back({r, 3, 1, 0, 220 + s, 320 + s});
  }
  plan::RankMemory m0;
  m0.rank = 0;
  m0.peak_bytes = 1000;
  m0.at_peak = {{TensorRole::weight, 600}, {TensorRole::activation, 300}, {TensorRole::input, 100}};
  m0.capacity_bytes = 4000;
  plan::RankMemory m1 = m0;
  m1.rank = 1;
  m1.peak_bytes = 5000;
  m1.fits = false;
  m1.at_peak = {{TensorRole::weight, 5000}};
  t.memory = {m0, m1};
  t.summary.step_time_s = 1.0;
  t.summary.compute_time_s = 0.6;
  t.summary.exposed_comm_s = 0.1;
  t.summary.bubble_fraction = 0.2;
  t.summary.capacity_bytes = 4000;
  t.summary.peak_memory_bytes = 5000;
  t.summary.fits = false;
  t.summary.tokens_per_s = 1000;
  plan::CommSummary c;
  c.group = GroupKind::dp;
  c.type = "all_reduce";
  c.count = 2;
  c.bytes = 4096;
  c.time_s = 0.3;
  c.exposed_s = 0.1;
  plan::CommSummary c2 = c;
  c2.group = GroupKind::tp;
  c2.time_s = 0.5;
  c2.exposed_s = 0.0;
  t.summary.comm = {c, c2};
  return t;
}

PredictionPtr wrap(plan::Trace t) {
  auto r = std::make_shared<PredictionResult>();
  r->trace = std::move(t);
  r->scenario_name = "hand";
  r->world_size = 2;
  return r;
}

TEST(StepBreakdown, PartsAddUpToTheStep) {
  const plan::Trace t = hand_trace();
  const StepBreakdown b = step_breakdown(t.summary);
  EXPECT_DOUBLE_EQ(b.compute_s, 0.6);
  EXPECT_DOUBLE_EQ(b.exposed_comm_s, 0.1);
  EXPECT_DOUBLE_EQ(b.bubble_s, 0.2);
  EXPECT_NEAR(b.other_s, 0.1, 1e-12);
  EXPECT_NEAR(b.compute_s + b.exposed_comm_s + b.bubble_s + b.other_s, b.step_s, 1e-12);
}

TEST(SummaryModel, RowsCarryTheHeadlineFigures) {
  SummaryModel m;
  m.set_result(wrap(hand_trace()));
  ASSERT_NE(m.row("step_time"), nullptr);
  EXPECT_DOUBLE_EQ(m.row("step_time")->raw, 1.0);
  EXPECT_EQ(m.row("step_time")->value, "1.00 s");
  ASSERT_NE(m.row("tokens_per_s"), nullptr);
  EXPECT_EQ(m.row("fits")->raw, 0.0);
  EXPECT_TRUE(m.row("fits")->value.startsWith("NO"));
  EXPECT_EQ(m.columnCount(), 2);
  EXPECT_EQ(m.rowCount(), static_cast<int>(m.rows().size()));
  const QModelIndex v = m.index(0, SummaryModel::value_column);
  EXPECT_FALSE(m.data(m.index(0, 0), Qt::ForegroundRole).isValid());
  m.set_stale(true);
  EXPECT_TRUE(m.data(v, Qt::ForegroundRole).isValid());
  m.set_result(nullptr);
  EXPECT_EQ(m.rowCount(), 0);
}

TEST(MemoryModel, BreaksThePeakDownByRole) {
  MemoryModel m;
  m.set_trace(hand_trace());
  ASSERT_EQ(m.categories().size(), 2u);
  EXPECT_EQ(m.capacity_bytes(), 4000);
  EXPECT_EQ(m.max_peak_bytes(), 5000);
  // The main roles always, plus "input" because it is non-zero.
  EXPECT_EQ(m.roles().size(), reports::main_memory_roles().size() + 1);
  EXPECT_EQ(m.roles().back(), TensorRole::input);
  const auto& c0 = m.categories()[0];
  EXPECT_EQ(c0.label, "rank 0 (stage0)");
  EXPECT_EQ(c0.short_label, "stage0");
  std::int64_t sum = 0;
  for (auto b : c0.bytes) sum += b;
  EXPECT_EQ(sum, 1000);
  EXPECT_FALSE(m.categories()[1].fits);
  EXPECT_EQ(m.columnCount(), static_cast<int>(m.roles().size()) + 2);
  EXPECT_EQ(m.data(m.index(1, m.columnCount() - 1), Qt::UserRole).toLongLong(), 5000);
}

TEST(MemoryModel, ManyRanksAreReducedToOnePerProgram) {
  plan::Trace t = hand_trace();
  t.ranks.clear();
  t.program_of_rank.clear();
  t.memory.clear();
  t.programs.push_back(t.programs[0]);
  t.programs[1].name = "stage1";
  for (int r = 0; r < 100; ++r) {
    t.ranks.push_back(r);
    t.program_of_rank.push_back(r % 2);
    plan::RankMemory mem;
    mem.rank = r;
    mem.peak_bytes = 100 + r;
    t.memory.push_back(mem);
  }
  MemoryModel m;
  m.set_trace(t);
  ASSERT_EQ(m.categories().size(), 2u);
  EXPECT_EQ(m.categories()[0].rank, 98);  // highest peak of program 0
  EXPECT_EQ(m.categories()[1].rank, 99);
}

TEST(TimelineModel, LanesAreRankStreamPairsShiftedToZero) {
  TimelineModel m;
  m.set_trace(std::make_shared<const plan::Trace>(hand_trace()));
  ASSERT_EQ(m.lane_count(), 4);
  EXPECT_EQ(m.lane(0).label, "rank 0 compute");
  EXPECT_EQ(m.lane(1).label, "rank 0 comm_dp");
  EXPECT_EQ(m.lane(2).rank, 1);
  EXPECT_EQ(m.origin_ns(), 100);
  EXPECT_EQ(m.lane(0).spans.front().start_ns, 0);
  EXPECT_EQ(m.end_ns(), 225);
  EXPECT_EQ(m.span_count(), 8);
  EXPECT_EQ(m.classes().size(), 4u);
}

TEST(TimelineModel, BlocksAreSpansWhenWideAndMergedWhenNarrow) {
  TimelineModel m;
  m.set_trace(std::make_shared<const plan::Trace>(hand_trace()));
  // 1 ns per pixel: every span is at least a pixel wide.
  const auto fine = m.blocks(0, 0, 300, 1.0);
  ASSERT_EQ(fine.size(), 3u);
  EXPECT_EQ(fine[1].span, 1);
  EXPECT_EQ(fine[1].start_ns, 100);
  // 200 ns per pixel: the three compute ops merge into one block, coloured as the longest (gemm).
  const auto coarse = m.blocks(0, 0, 300, 200.0);
  ASSERT_EQ(coarse.size(), 1u);
  EXPECT_EQ(coarse[0].count, 3);
  EXPECT_EQ(coarse[0].span, -1);
  EXPECT_EQ(m.classes()[coarse[0].op_class], "gemm");
  // A window that starts after the first span.
  const auto window = m.blocks(0, 120, 300, 1.0);
  ASSERT_EQ(window.size(), 2u);
  EXPECT_EQ(window[0].span, 1);
}

TEST(TimelineModel, DownsamplingBoundsTheBlockCount) {
  plan::Trace t = hand_trace();
  t.ops.clear();
  for (int i = 0; i < 100000; ++i) t.ops.push_back({0, i % 3, 0, 0, i * 10, i * 10 + 7});
  TimelineModel m;
  m.set_trace(std::make_shared<const plan::Trace>(t));
  const double width_px = 1000;
  const auto blocks = m.blocks(0, 0, m.end_ns(), static_cast<double>(m.end_ns()) / width_px);
  EXPECT_LE(blocks.size(), static_cast<std::size_t>(width_px) + 1);
  EXPECT_GE(blocks.size(), static_cast<std::size_t>(width_px / 4));
}

TEST(TimelineModel, HitFindsTheOpUnderTheCursor) {
  TimelineModel m;
  m.set_trace(std::make_shared<const plan::Trace>(hand_trace()));
  const auto hit = m.hit(0, 120);  // op 1 spans [100, 150] after the shift
  ASSERT_TRUE(hit.has_value());
  EXPECT_EQ(hit->name, "attn");
  EXPECT_EQ(hit->op_class, "attention");
  EXPECT_EQ(hit->end_ns - hit->start_ns, 50);
  EXPECT_EQ(hit->layer, 3);
  EXPECT_EQ(hit->microbatch, 1);
  EXPECT_TRUE(hit->text().contains("attn"));
  EXPECT_TRUE(hit->text().contains("micro-batch 1"));
  EXPECT_FALSE(m.hit(0, 1000).has_value());
  EXPECT_TRUE(m.hit(0, 170, 20).has_value());  // 10 ns after the last op ends
}

TEST(TimelineModel, StepFilterKeepsOneStep) {
  plan::Trace t = hand_trace();
  for (auto s : std::vector<plan::OpSpan>(t.ops)) {
    s.step = 1;
    s.start_ns += 10000;
    s.end_ns += 10000;
    t.ops.push_back(s);
  }
  TimelineModel m;
  m.set_trace(std::make_shared<const plan::Trace>(t), 1);
  EXPECT_EQ(m.span_count(), 8);
  EXPECT_EQ(m.origin_ns(), 10100);
  EXPECT_EQ(m.end_ns(), 225);
}

TEST(CommModel, RowsSplitExposedAndOverlapped) {
  CommModel m;
  m.set_trace(hand_trace());
  ASSERT_EQ(m.rowCount(), 2);
  EXPECT_EQ(m.label(0), "tp all_reduce");  // sorted by time, largest first
  EXPECT_EQ(m.label(1), "dp all_reduce");
  EXPECT_DOUBLE_EQ(m.data(m.index(1, CommModel::overlapped_column), Qt::UserRole).toDouble(), 0.2);
  EXPECT_EQ(m.data(m.index(1, CommModel::bytes_column), Qt::UserRole).toLongLong(), 4096);
  EXPECT_DOUBLE_EQ(m.total_time_s(), 0.8);
  EXPECT_DOUBLE_EQ(m.total_exposed_s(), 0.1);
}

TEST(ViewModels, RealPredictionFillsEveryModel) {
  const PredictionPtr r = testing::predict_json(testing::small_scenario());
  SummaryModel s;
  s.set_result(r);
  EXPECT_GT(s.rowCount(), 10);
  MemoryModel mem;
  mem.set_result(r);
  EXPECT_EQ(mem.categories().size(), r->trace.memory.size());
  EXPECT_GT(mem.max_peak_bytes(), 0);
  CommModel c;
  c.set_result(r);
  EXPECT_GT(c.rowCount(), 0);
  TimelineModel t;
  t.set_trace(std::shared_ptr<const plan::Trace>(r, &r->trace));
  EXPECT_EQ(t.span_count(), static_cast<std::int64_t>(r->trace.ops.size()));
}

}  // namespace
}  // namespace clustersim::gui
