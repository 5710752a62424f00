// Screenshot mode: deterministic captures of every tab for the documentation.
#include "views/screenshot.hpp"

#include <QCoreApplication>
#include <QDeadlineTimer>
#include <QDir>
#include <QEventLoop>
#include <QImage>
#include <QTabWidget>
#include <QThread>

#include "core/dashboard.hpp"
#include "views/chart_export.hpp"
#include "views/main_window.hpp"
#include "views/sweep_view.hpp"
#include "views/validation_view.hpp"

namespace clustersim::gui {

namespace {

void settle(int ms = 50) {
  QDeadlineTimer until(ms);
  while (!until.hasExpired()) {
    QCoreApplication::processEvents(QEventLoop::AllEvents, 10);
    QThread::msleep(2);
  }
}

}  // namespace

bool wait_for_prediction(Dashboard& dashboard, int timeout_ms) {
  QDeadlineTimer deadline(timeout_ms);
  while (!deadline.hasExpired()) {
    QCoreApplication::processEvents(QEventLoop::AllEvents, 20);
    if (!dashboard.document().valid()) return true;
    if (!dashboard.prediction_error().valid()) return true;
    if (dashboard.current() && !dashboard.stale() && !dashboard.predictor().busy()) return true;
    QThread::msleep(2);
  }
  return false;
}

QString take_screenshots(MainWindow& window, Dashboard& dashboard, const ScreenshotOptions& options,
                         QStringList* written) {
  if (!QDir().mkpath(options.dir)) return QStringLiteral("cannot create %1").arg(options.dir);
  window.resize(options.size);
  window.show();
  if (!wait_for_prediction(dashboard, options.timeout_ms)) return QStringLiteral("no prediction within the time limit");
  if (!dashboard.document().valid())
    return QStringLiteral("the scenario is invalid: ") + dashboard.document().error().message;

  const auto wanted = [&](const QString& name) { return options.views.isEmpty() || options.views.contains(name); };
  if (!options.sweep_csv.isEmpty()) {
    if (const QString e = window.sweep_view()->load_csv(options.sweep_csv); !e.isEmpty()) return e;
  } else if (options.run_sweep && wanted(QStringLiteral("sweep"))) {
    bool done = false;
    auto connection = QObject::connect(&dashboard.sweep_runner(), &SweepRunner::finished, &window,
                                       [&done](const SweepOutput&) { done = true; });
    window.sweep_view()->run_grid(QStringLiteral("tp"), QStringLiteral("1, 2, 4, 8"), QStringLiteral("micro_batch"),
                                  QStringLiteral("1, 2, 4, 8"));
    QDeadlineTimer deadline(options.timeout_ms);
    while (!done && !deadline.hasExpired()) {
      QCoreApplication::processEvents(QEventLoop::AllEvents, 20);
      QThread::msleep(2);
    }
    QObject::disconnect(connection);
    if (!done) return QStringLiteral("the sweep did not finish within the time limit");
  }
  if (!options.measured_trace.isEmpty()) {
    if (const QString e = window.validation_view()->load_measured(options.measured_trace); !e.isEmpty())
      return QStringLiteral("measured trace: ") + e;
  }

  static const char* names[] = {"summary", "memory", "timeline", "communication", "sweep", "validation"};
  for (int i = 0; i < window.tabs()->count() && i < 6; ++i) {
    if (!wanted(QString::fromLatin1(names[i]))) continue;
    window.tabs()->setCurrentIndex(i);
    window.resize(options.size);
    settle();
    const QImage image = render_widget(&window);
    const QString path =
        QDir(options.dir).filePath(options.prefix + QString::fromLatin1(names[i]) + QStringLiteral(".png"));
    if (!image.save(path)) return QStringLiteral("cannot write %1").arg(path);
    if (written) *written << path;
  }

  if (options.invalid_example && wanted(QStringLiteral("estimate"))) {
    // A knob change, captured before its simulation lands: the preview is installed inside the edit
    // and the result of the simulation arrives through the event loop, which does not run before
    // the capture.
    window.tabs()->setCurrentIndex(0);
    window.resize(options.size);
    settle();
    const nlohmann::json before = dashboard.document().json();
    const QString path_before = dashboard.document().path();
    const Knob* mb = find_knob(dashboard.knobs(), "micro_batch");
    const auto* current = before.contains("training") ? &before["training"] : nullptr;
    if (mb && current && current->contains("micro_batch") && (*current)["micro_batch"].get<double>() >= 2.0)
      dashboard.document().set_knob(*mb, (*current)["micro_batch"].get<double>() / 2.0);
    if (dashboard.preview()) {  // none for models the estimate does not cover: no picture
      const QString path = QDir(options.dir).filePath(options.prefix + QStringLiteral("estimate.png"));
      if (!render_widget(&window).save(path)) return QStringLiteral("cannot write %1").arg(path);
      if (written) *written << path;
    }
    dashboard.document().set_json(before, path_before);
    wait_for_prediction(dashboard, options.timeout_ms);
  }

  if (options.invalid_example && wanted(QStringLiteral("invalid-knob"))) {
    // An invalid knob: tp that does not divide the GPUs. The panel shows the library's message and
    // outlines the control; the last prediction stays, marked stale.
    const nlohmann::json before = dashboard.document().json();
    const QString path_before = dashboard.document().path();
    if (const Knob* tp = find_knob(dashboard.knobs(), "tp")) dashboard.document().set_knob(*tp, 3);
    window.tabs()->setCurrentIndex(0);
    settle(200);
    const QString path = QDir(options.dir).filePath(options.prefix + QStringLiteral("invalid-knob.png"));
    if (!render_widget(&window).save(path)) return QStringLiteral("cannot write %1").arg(path);
    if (written) *written << path;
    dashboard.document().set_json(before, path_before);
    wait_for_prediction(dashboard, options.timeout_ms);
  }
  return {};
}

}  // namespace clustersim::gui
