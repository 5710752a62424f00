// Rendering tests of gui/src/views under the offscreen platform: the main window at 1280 x 800 on
// the default scenario; each view is grabbed and checked for its chart elements (series, bar sets,
// categories, axes), for coloured pixels in the image and, for the timelines, for drawn rectangles.
// Also: inline errors in the scenario panel, PNG/SVG export, the screenshot mode, timeline zoom.
#include <gtest/gtest.h>

#include <QAbstractBarSeries>
#include <QBarCategoryAxis>
#include <QBarSet>
#include <QChart>
#include <QFile>
#include <QFileInfo>
#include <QImage>
#include <QLabel>
#include <QLineSeries>
#include <QScatterSeries>
#include <QSpinBox>
#include <QTabWidget>
#include <QTableView>
#include <QTemporaryDir>
#include <QWheelEvent>

#include "clustersim/plan/json.hpp"
#include "clustersim/reports/analysis.hpp"
#include "core/dashboard.hpp"
#include "gui_test_support.hpp"
#include "views/chart_export.hpp"
#include "views/comm_view.hpp"
#include "views/main_window.hpp"
#include "views/memory_view.hpp"
#include "views/scenario_panel.hpp"
#include "views/screenshot.hpp"
#include "views/summary_view.hpp"
#include "views/sweep_view.hpp"
#include "views/timeline_view.hpp"
#include "views/timeline_widget.hpp"
#include "views/validation_view.hpp"

namespace clustersim::gui {
namespace {

class Views : public ::testing::Test {
 protected:
  void SetUp() override {
    dashboard = std::make_unique<Dashboard>();
    dashboard->predictor().set_debounce_ms(0);
    dashboard->document().set_json(testing::default_scenario());
    window = std::make_unique<MainWindow>(*dashboard);
    window->resize(1280, 800);
    window->show();
    ASSERT_TRUE(wait_for_prediction(*dashboard, 120000));
    ASSERT_TRUE(dashboard->document().valid()) << dashboard->document().error().message.toStdString();
    ASSERT_NE(dashboard->current(), nullptr);
  }

  // Shows tab `i` and grabs the window.
  QImage show_tab(int i) {
    window->tabs()->setCurrentIndex(i);
    QCoreApplication::processEvents();
    return render_widget(window.get());
  }

  std::unique_ptr<Dashboard> dashboard;
  std::unique_ptr<MainWindow> window;
};

int bar_set_count(QChart* chart) {
  int n = 0;
  for (auto* s : chart->series())
    if (auto* bars = qobject_cast<QAbstractBarSeries*>(s)) n += static_cast<int>(bars->barSets().size());
  return n;
}

TEST_F(Views, WindowIsUsableAt1280x800) {
  EXPECT_EQ(window->tabs()->count(), 6);
  EXPECT_LE(window->minimumSizeHint().width(), 1280);
  EXPECT_LE(window->minimumSizeHint().height(), 800);
  const QImage image = render_widget(window.get());
  EXPECT_EQ(image.size(), QSize(1280, 800));
  EXPECT_TRUE(window->status_label()->text().startsWith("Up to date")) << window->status_label()->text().toStdString();
}

TEST_F(Views, SummaryShowsTheBreakdownAndMemoryCharts) {
  const QImage image = show_tab(0);
  SummaryView* v = window->summary_view();
  EXPECT_EQ(v->breakdown_chart()->series().size(), 1);
  EXPECT_EQ(bar_set_count(v->breakdown_chart()), 4);
  EXPECT_EQ(v->breakdown_chart()->axes().size(), 2);
  EXPECT_EQ(bar_set_count(v->memory_chart()), 3);
  EXPECT_FALSE(v->headline()->text().isEmpty());
  EXPECT_FALSE(v->stale_banner()->isVisible());
  EXPECT_GT(testing::coloured_pixels(render_widget(v->export_target())), 2000);
  EXPECT_GT(testing::coloured_pixels(image), 2000);
}

TEST_F(Views, MemoryShowsStackedBarsByRoleAndTheCapacityLine) {
  const QImage image = show_tab(1);
  QChart* chart = window->memory_view()->chart();
  const MemoryModel& m = dashboard->memory();
  ASSERT_EQ(chart->series().size(), 2);  // the stacked bars and the capacity line
  EXPECT_EQ(bar_set_count(chart), static_cast<int>(m.roles().size()));
  auto* line = qobject_cast<QLineSeries*>(chart->series()[1]);
  ASSERT_NE(line, nullptr);
  EXPECT_EQ(line->count(), 2);
  EXPECT_NEAR(line->at(0).y(), static_cast<double>(m.capacity_bytes()) / (1024.0 * 1024 * 1024), 1e-9);
  ASSERT_EQ(chart->axes(Qt::Horizontal).size(), 1);
  auto* categories = qobject_cast<QBarCategoryAxis*>(chart->axes(Qt::Horizontal)[0]);
  ASSERT_NE(categories, nullptr);
  EXPECT_EQ(categories->count(), static_cast<int>(m.categories().size()));
  EXPECT_EQ(chart->axes(Qt::Vertical).size(), 1);
  EXPECT_GT(testing::coloured_pixels(render_widget(window->memory_view()->export_target())), 2000);
  EXPECT_GT(testing::coloured_pixels(image), 2000);
}

TEST_F(Views, TimelineDrawsOpRectangles) {
  show_tab(2);
  TimelineWidget* t = window->timeline_view()->timeline();
  const QImage image = render_widget(t);
  EXPECT_GT(t->last_rect_count(), 10);
  EXPECT_GT(testing::coloured_pixels(image), 1000);
  // Not more rectangles than pixel columns per lane (down-sampling).
  EXPECT_LE(t->last_rect_count(), dashboard->timeline().lane_count() * t->width());
}

TEST_F(Views, TimelineZoomsPansAndFindsOps) {
  show_tab(2);
  TimelineWidget* t = window->timeline_view()->timeline();
  render_widget(t);
  const double width_before = t->viewport()->t1() - t->viewport()->t0();
  QWheelEvent wheel(QPointF(t->width() / 2.0, 40), t->mapToGlobal(QPointF(t->width() / 2.0, 40)), QPoint(),
                    QPoint(0, 240), Qt::NoButton, Qt::NoModifier, Qt::NoScrollPhase, false);
  QCoreApplication::sendEvent(t, &wheel);
  EXPECT_LT(t->viewport()->t1() - t->viewport()->t0(), width_before);
  t->viewport()->pan(1000.0);
  t->fit();
  EXPECT_NEAR(t->viewport()->t1() - t->viewport()->t0(), width_before, width_before * 1e-9);
  // Somewhere on the first lane there is an op.
  bool found = false;
  for (int x = TimelineWidget::label_width + 1; x < t->width() - 20 && !found; x += 3)
    found = t->hit_at(QPoint(x, TimelineWidget::ruler_height + t->lane_height() / 2)).has_value();
  EXPECT_TRUE(found);
}

TEST_F(Views, CommunicationShowsExposedAndOverlappedBars) {
  const QImage image = show_tab(3);
  QChart* chart = window->comm_view()->chart();
  const CommModel& m = dashboard->comm();
  ASSERT_GT(m.rowCount(), 0);
  ASSERT_EQ(chart->series().size(), 1);
  EXPECT_EQ(bar_set_count(chart), 2);
  auto* categories = qobject_cast<QBarCategoryAxis*>(chart->axes(Qt::Vertical).value(0));
  ASSERT_NE(categories, nullptr);
  EXPECT_EQ(categories->count(), m.rowCount());
  EXPECT_EQ(chart->axes().size(), 2);
  EXPECT_GT(testing::coloured_pixels(render_widget(window->comm_view()->export_target())), 1000);
  EXPECT_GT(testing::coloured_pixels(image), 1000);
}

TEST_F(Views, SweepPlotsPointsAndTheParetoFrontAndLoadsAClickedPoint) {
  window->tabs()->setCurrentIndex(4);
  bool done = false;
  QObject::connect(&dashboard->sweep_runner(), &SweepRunner::finished, [&](const SweepOutput&) { done = true; });
  window->sweep_view()->run_grid("micro_batch", "1, 2, 4", "zero_stage", "0, 1");
  ASSERT_TRUE(testing::wait_until([&] { return done; }, 300000));
  const SweepModel& m = dashboard->sweep();
  ASSERT_GT(m.points().size(), 1u) << window->sweep_view()->status()->text().toStdString();
  QChart* chart = window->sweep_view()->chart();
  ASSERT_EQ(chart->series().size(), 4);  // front line, front points, fits, does not fit
  int scatter_points = 0;
  for (auto* s : chart->series())
    if (auto* sc = qobject_cast<QScatterSeries*>(s); sc && sc->name() != "Pareto-optimal")
      scatter_points += sc->count();
  EXPECT_EQ(scatter_points, static_cast<int>(m.points().size()));
  auto* front = qobject_cast<QLineSeries*>(chart->series()[0]);
  ASSERT_NE(front, nullptr);
  EXPECT_EQ(front->count(), static_cast<int>(m.pareto_front().size()));
  EXPECT_EQ(chart->axes().size(), 2);
  EXPECT_GT(testing::coloured_pixels(render_widget(window->sweep_view()->export_target())), 300);

  // Loading a point sets its parameters in the scenario.
  const int row = static_cast<int>(m.points().size()) - 1;
  window->sweep_view()->select_point(row);
  for (const auto& [path, value] : m.points()[static_cast<std::size_t>(row)].assignments) {
    const nlohmann::json* v = json_at_path(dashboard->document().json(), path);
    ASSERT_NE(v, nullptr) << path;
    EXPECT_EQ(*v, value);
  }
}

TEST_F(Views, ValidationShowsTheErrorTableAndBothTimelines) {
  QTemporaryDir dir;
  const QString file = dir.filePath("measured.json");
  plan::write_json_file(file.toStdString(), plan::to_json(testing::make_measured(dashboard->current()->trace)));
  ValidationView* v = window->validation_view();
  ASSERT_TRUE(v->load_measured(file).isEmpty()) << dashboard->validation().error().toStdString();
  show_tab(5);
  EXPECT_GT(v->classes_table()->model()->rowCount(), 3);
  EXPECT_GT(v->checks_table()->model()->rowCount(), 0);
  EXPECT_TRUE(v->verdict()->text().startsWith("PASS") || v->verdict()->text().startsWith("FAIL"));
  render_widget(v);
  EXPECT_GT(v->predicted_timeline()->last_rect_count(), 0);
  EXPECT_GT(v->measured_timeline()->last_rect_count(), 0);
  // One shared time axis.
  EXPECT_EQ(v->predicted_timeline()->viewport(), v->measured_timeline()->viewport());
  EXPECT_GT(testing::coloured_pixels(render_widget(v->export_target())), 1000);

  // A bad file: the message is shown, nothing crashes.
  const QString bad = dir.filePath("bad.json");
  QFile f(bad);
  f.open(QIODevice::WriteOnly);
  f.write("{ not json");
  f.close();
  EXPECT_FALSE(v->load_measured(bad).isEmpty());
  EXPECT_FALSE(v->message()->text().isEmpty());
}

TEST_F(Views, InvalidKnobShowsTheLibraryMessageAndKeepsTheStalePrediction) {
  const PredictionPtr before = dashboard->current();
  auto* tp = qobject_cast<QSpinBox*>(window->scenario_panel()->control("tp"));
  ASSERT_NE(tp, nullptr);
  tp->setValue(3);
  ASSERT_FALSE(dashboard->document().valid());
  const ScenarioError& e = dashboard->document().error();
  QLabel* label = window->scenario_panel()->error_label();
  EXPECT_FALSE(label->isHidden());
  EXPECT_EQ(label->text(), e.message);
  const Knob* knob = knob_for_error_path(dashboard->knobs(), e.json_path.toStdString());
  ASSERT_NE(knob, nullptr) << e.json_path.toStdString();
  EXPECT_EQ(window->scenario_panel()->highlighted_knob(), knob->id);
  EXPECT_FALSE(window->scenario_panel()->control(knob->id)->styleSheet().isEmpty());
  EXPECT_EQ(dashboard->current(), before);
  show_tab(0);
  EXPECT_FALSE(window->summary_view()->stale_banner()->isHidden());
  EXPECT_TRUE(window->status_label()->text().contains("stale"));

  tp->setValue(1);
  ASSERT_TRUE(wait_for_prediction(*dashboard, 120000));
  EXPECT_TRUE(dashboard->document().valid()) << dashboard->document().error().message.toStdString();
  EXPECT_TRUE(label->isHidden());
  EXPECT_TRUE(window->scenario_panel()->highlighted_knob().empty());
}

TEST_F(Views, ExportsChartsAsPngAndSvgAndThePredictionAsChromeTrace) {
  QTemporaryDir dir;
  for (int i = 0; i < 4; ++i) {
    show_tab(i);
    const QString png = dir.filePath(QStringLiteral("v%1.png").arg(i));
    const QString svg = dir.filePath(QStringLiteral("v%1.svg").arg(i));
    ASSERT_TRUE(window->export_current_view(png).isEmpty());
    ASSERT_TRUE(window->export_current_view(svg).isEmpty());
    EXPECT_FALSE(QImage(png).isNull());
    QFile f(svg);
    ASSERT_TRUE(f.open(QIODevice::ReadOnly));
    const QByteArray text = f.readAll();
    EXPECT_TRUE(text.contains("<svg"));
    EXPECT_GT(text.size(), 1000);
  }
  const QString chrome = dir.filePath("trace.json");
  ASSERT_TRUE(window->export_chrome_trace(chrome).isEmpty());
  EXPECT_GT(QFileInfo(chrome).size(), 1000);
}

TEST_F(Views, ScreenshotModeWritesEveryView) {
  QTemporaryDir dir;
  const QString measured = dir.filePath("measured.json");
  plan::write_json_file(measured.toStdString(), plan::to_json(testing::make_measured(dashboard->current()->trace)));
  ScreenshotOptions options;
  options.dir = dir.filePath("shots");
  options.measured_trace = measured;
  QStringList written;
  const QString error = take_screenshots(*window, *dashboard, options, &written);
  ASSERT_TRUE(error.isEmpty()) << error.toStdString();
  ASSERT_EQ(written.size(), 8);
  for (const QString& file : written) {
    const QImage image(file);
    EXPECT_EQ(image.size(), QSize(1280, 800)) << file.toStdString();
    EXPECT_GT(testing::coloured_pixels(image), 1000) << file.toStdString();
  }
  EXPECT_TRUE(dashboard->document().valid());  // the invalid example was undone

  // A selection of pictures with a prefix.
  options.views = QStringList{"memory", "estimate", "invalid-knob"};
  options.prefix = "x-";
  written.clear();
  ASSERT_TRUE(take_screenshots(*window, *dashboard, options, &written).isEmpty());
  EXPECT_EQ(written, (QStringList{options.dir + "/x-memory.png", options.dir + "/x-estimate.png",
                                  options.dir + "/x-invalid-knob.png"}));
  EXPECT_EQ(dashboard->preview(), nullptr) << "the estimate's knob change was undone and simulated";
}

}  // namespace
}  // namespace clustersim::gui

namespace clustersim::gui {
namespace {

// The recorded measurement (tests/unit/gui/data/validation-cpu.measured.json, written by the CPU
// executor) against a prediction of its scenario: the overlay and the error table appear.
TEST(RecordedMeasurement, ShowsTheOverlayAndTheErrorTable) {
  Dashboard dashboard;
  dashboard.predictor().set_debounce_ms(0);
  ASSERT_TRUE(
      dashboard.document().load_file(QString::fromStdString(testing::data_path("validation-cpu.json"))).valid());
  MainWindow window(dashboard);
  window.resize(1280, 800);
  window.show();
  ASSERT_TRUE(wait_for_prediction(dashboard, 120000));
  ASSERT_NE(dashboard.current(), nullptr);
  ValidationView* v = window.validation_view();
  const QString error = v->load_measured(QString::fromStdString(testing::data_path("validation-cpu.measured.json")));
  if (error.contains("the same plan")) {
    GTEST_SKIP() << "the recording no longer matches the plan builder's output; re-record it (docs/GUI.md): "
                 << error.toStdString();
  }
  ASSERT_TRUE(error.isEmpty()) << error.toStdString();
  const auto& c = dashboard.validation().comparison();
  ASSERT_TRUE(c.has_value());
  EXPECT_EQ(c->measured_backend, "cpu");
  EXPECT_EQ(c->steps_skipped, 1);
  EXPECT_EQ(c->steps_used.size() + 1, reports::trace_steps(*dashboard.validation().measured_trace()).size());
  window.tabs()->setCurrentWidget(v);
  const QImage image = render_widget(v);
  // Step time, each class, idle.
  EXPECT_EQ(v->classes_table()->model()->rowCount(), static_cast<int>(c->classes.size() + c->comm_groups.size()) + 1);
  EXPECT_EQ(v->checks_table()->model()->rowCount(), static_cast<int>(c->checks.size()));
  const QString gemm_error = v->classes_table()->model()->index(1, 3).data().toString();
  EXPECT_TRUE(gemm_error.endsWith('%')) << gemm_error.toStdString();
  EXPECT_GT(v->predicted_timeline()->last_rect_count(), 10);
  EXPECT_GT(v->measured_timeline()->last_rect_count(), 10);
  EXPECT_GT(testing::coloured_pixels(image), 2000);
}

}  // namespace
}  // namespace clustersim::gui
