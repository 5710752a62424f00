// Tests of gui/src/core/sweep_model.hpp and sweep_runner.hpp: reading sweep CSVs in the reports
// library's columns, the Pareto front, in-process grids, loading a point into the scenario.
#include <gtest/gtest.h>

#include <QSignalSpy>
#include <QTemporaryDir>

#include "clustersim/reports/csv_report.hpp"
#include "core/dashboard.hpp"
#include "core/sweep_model.hpp"
#include "core/sweep_runner.hpp"
#include "gui_test_support.hpp"

namespace clustersim::gui {
namespace {

plan::Trace point_trace(double tokens_per_s, std::int64_t peak, bool fits) {
  plan::Trace t;
  t.scenario = "s";
  t.summary.tokens_per_s = tokens_per_s;
  t.summary.samples_per_s = tokens_per_s / 1000;
  t.summary.step_time_s = 1.0;
  t.summary.peak_memory_bytes = peak;
  t.summary.capacity_bytes = 100;
  t.summary.fits = fits;
  return t;
}

// Four points over parallelism.tp: (throughput, memory): tp1 (100, 90), tp2 (150, 60), tp4 (120, 40),
// tp8 (200, 120, does not fit). Pareto among the fitting ones: tp4 (least memory), tp2 (best
// throughput); tp1 is dominated by tp2.
std::string sweep_csv() {
  const reports::CsvColumns extra = {{"parallelism.tp", ""}, {"note", ""}};
  std::string csv = reports::csv_header(extra) + "\n";
  const auto row = [&](const char* tp, double thr, std::int64_t mem, bool fits) {
    csv += reports::csv_row(point_trace(thr, mem, fits), {}, {{"parallelism.tp", tp}, {"note", "x"}}) + "\n";
  };
  row("1", 100, 90, true);
  row("2", 150, 60, true);
  row("4", 120, 40, true);
  row("8", 200, 120, false);
  return csv;
}

TEST(SweepModel, ReadsTheSweepCsvColumns) {
  SweepModel m;
  QSignalSpy loaded(&m, &SweepModel::loaded);
  ASSERT_TRUE(m.load_csv_text(sweep_csv()).isEmpty());
  EXPECT_EQ(loaded.count(), 1);
  ASSERT_EQ(m.points().size(), 4u);
  EXPECT_EQ(m.parameters(), QStringList{"parallelism.tp"});
  EXPECT_EQ(m.throughput_unit(), "tokens/s");
  EXPECT_EQ(m.columnCount(), static_cast<int>(reports::csv_columns({{"parallelism.tp", ""}, {"note", ""}}).size()));
  const SweepPoint& p = m.points()[1];
  EXPECT_DOUBLE_EQ(p.throughput, 150);
  EXPECT_EQ(p.peak_memory_bytes, 60);
  EXPECT_TRUE(p.fits);
  ASSERT_EQ(p.assignments.size(), 1u);
  EXPECT_EQ(p.assignments[0].first, "parallelism.tp");
  EXPECT_EQ(p.assignments[0].second, 2);
  EXPECT_EQ(p.label, "parallelism.tp=2");
  EXPECT_FALSE(m.points()[3].fits);
}

TEST(SweepModel, ParetoFrontAmongFittingPoints) {
  SweepModel m;
  ASSERT_TRUE(m.load_csv_text(sweep_csv()).isEmpty());
  EXPECT_FALSE(m.points()[0].pareto);
  EXPECT_TRUE(m.points()[1].pareto);
  EXPECT_TRUE(m.points()[2].pareto);
  EXPECT_FALSE(m.points()[3].pareto);  // fastest, but does not fit
  EXPECT_EQ(m.pareto_front(), (std::vector<int>{2, 1}));
  EXPECT_EQ(m.nearest_point(0.0, 150, 1.0, 200), 1);
}

TEST(SweepModel, ParetoWhenNothingFitsUsesAllPoints) {
  std::vector<SweepPoint> points(3);
  points[0].throughput = 1;
  points[0].peak_memory_bytes = 10;
  points[1].throughput = 2;
  points[1].peak_memory_bytes = 20;
  points[2].throughput = 1;
  points[2].peak_memory_bytes = 30;
  for (auto& p : points) p.fits = false;
  mark_pareto(points);
  EXPECT_TRUE(points[0].pareto);
  EXPECT_TRUE(points[1].pareto);
  EXPECT_FALSE(points[2].pareto);
}

TEST(SweepModel, RejectsCsvWithoutTheColumns) {
  SweepModel m;
  ASSERT_TRUE(m.load_csv_text(sweep_csv()).isEmpty());
  const QString error = m.load_csv_text("a,b\n1,2\n");
  EXPECT_TRUE(error.contains("step_time_s")) << error.toStdString();
  EXPECT_EQ(m.points().size(), 4u);  // unchanged
  EXPECT_FALSE(m.load_csv_text("\"unterminated").isEmpty());
  EXPECT_FALSE(m.load_csv_file("/nonexistent/sweep.csv").isEmpty());
}

TEST(SweepRunner, GridSkipsInvalidPointsWithTheLibraryMessage) {
  const SweepOutput out =
      run_sweep_grid(testing::small_scenario(), {{"parallelism.tp", {1, 2, 3}}, {"training.micro_batch", {1, 2}}});
  EXPECT_FALSE(out.cancelled);
  EXPECT_EQ(out.points, 4);
  ASSERT_EQ(out.skipped.size(), 2);
  EXPECT_TRUE(out.skipped[0].startsWith("parallelism.tp=3, training.micro_batch=1: ")) << out.skipped[0].toStdString();
  SweepModel m;
  ASSERT_TRUE(m.load_csv_text(out.csv).isEmpty());
  ASSERT_EQ(m.points().size(), 4u);
  EXPECT_EQ(m.parameters(), (QStringList{"parallelism.tp", "training.micro_batch"}));
  for (const auto& p : m.points()) {
    EXPECT_GT(p.throughput, 0);
    EXPECT_GT(p.peak_memory_bytes, 0);
  }
  EXPECT_FALSE(m.pareto_front().empty());
}

TEST(SweepRunner, BaseLetsDpFollowWhenTheGridChangesTpOrPp) {
  nlohmann::json j = testing::small_scenario();
  j["parallelism"]["dp"] = 2;
  EXPECT_FALSE(sweep_base(j, {{"parallelism.tp", {1, 2}}})["parallelism"].contains("dp"));
  EXPECT_FALSE(sweep_base(j, {{"training.micro_batch", {1}}, {"parallelism.pp", {1}}})["parallelism"].contains("dp"));
  EXPECT_TRUE(sweep_base(j, {{"parallelism.tp", {1}}}, false)["parallelism"].contains("dp"));
  EXPECT_TRUE(sweep_base(j, {{"parallelism.tp", {1}}, {"parallelism.dp", {8}}})["parallelism"].contains("dp"));
  EXPECT_TRUE(sweep_base(j, {{"training.micro_batch", {1}}})["parallelism"].contains("dp"));
  const SweepOutput out = run_sweep_grid(sweep_base(j, {{"parallelism.tp", {1, 2}}}), {{"parallelism.tp", {1, 2}}});
  EXPECT_EQ(out.points, 2);
}

TEST(SweepRunner, CancelStopsTheGrid) {
  int calls = 0;
  const SweepOutput out =
      run_sweep_grid(testing::small_scenario(), {{"training.micro_batch", {1, 2, 4, 8}}}, [&] { return ++calls > 3; });
  EXPECT_TRUE(out.cancelled);
  EXPECT_LT(out.points, 4);
}

TEST(SweepRunner, RunsOnTheThreadPoolAndReports) {
  SweepRunner runner;
  std::optional<SweepOutput> result;
  QObject::connect(&runner, &SweepRunner::finished, [&](const SweepOutput& o) { result = o; });
  runner.start(testing::small_scenario(), {{"training.micro_batch", {1, 2}}});
  EXPECT_TRUE(runner.running());
  ASSERT_TRUE(testing::wait_until([&] { return result.has_value(); }));
  EXPECT_FALSE(runner.running());
  EXPECT_EQ(result->points, 2);
}

TEST(Dashboard, ClickingASweepPointLoadsItsConfiguration) {
  Dashboard d;
  d.predictor().set_debounce_ms(0);
  d.document().set_json(testing::small_scenario());
  const SweepOutput out = run_sweep_grid(d.document().json(), {{"parallelism.tp", {1, 2}}});
  ASSERT_TRUE(d.sweep().load_csv_text(out.csv).isEmpty());
  d.apply_sweep_point(0);
  ASSERT_TRUE(d.document().valid());
  EXPECT_EQ(d.document().scenario()->parallelism.tp, 1);
  d.apply_sweep_point(1);
  EXPECT_EQ(d.document().scenario()->parallelism.tp, 2);
  d.apply_sweep_point(99);  // ignored
  EXPECT_EQ(d.document().scenario()->parallelism.tp, 2);
}

}  // namespace
}  // namespace clustersim::gui
