// clustersim-gui: the what-if dashboard. Argument handling only; everything else lives in
// gui_core (logic) and gui_views (widgets).
//   clustersim-gui [SCENARIO.json] [--measured TRACE.json] [--sweep SWEEP.csv]
//                  [--screenshot DIR [--views a,b,...] [--prefix P]]
// Without a scenario it opens scenarios/default.json (source checkout) or the embedded default.
// --screenshot DIR renders every tab at 1280x800 into DIR and exits (use QT_QPA_PLATFORM=offscreen
// on a machine without a display). Exit codes: 0 ok, 2 bad input, 3 other failure.
#include <cstdio>

#include <QApplication>
#include <QCommandLineParser>
#include <QTabWidget>

#include "core/dashboard.hpp"
#include "views/main_window.hpp"
#include "views/screenshot.hpp"
#include "views/sweep_view.hpp"
#include "views/validation_view.hpp"

int main(int argc, char** argv) {
  QApplication app(argc, argv);
  QApplication::setApplicationName(QStringLiteral("clustersim-gui"));
  QApplication::setApplicationVersion(QStringLiteral("0.1.0"));

  QCommandLineParser parser;
  parser.setApplicationDescription(QStringLiteral(
      "clustersim dashboard: edit a scenario, see the prediction update live, compare with a measured run."));
  parser.addHelpOption();
  parser.addVersionOption();
  parser.addPositionalArgument(QStringLiteral("scenario"), QStringLiteral("Scenario JSON file to open."),
                               QStringLiteral("[scenario]"));
  const QCommandLineOption measured(QStringLiteral("measured"), QStringLiteral("Measured trace to compare with."),
                                    QStringLiteral("trace.json"));
  const QCommandLineOption sweep(QStringLiteral("sweep"), QStringLiteral("Sweep CSV to load."),
                                 QStringLiteral("sweep.csv"));
  const QCommandLineOption screenshot(QStringLiteral("screenshot"),
                                      QStringLiteral("Save a PNG of every view at 1280x800 into DIR and exit."),
                                      QStringLiteral("DIR"));
  const QCommandLineOption views(
      QStringLiteral("views"),
      QStringLiteral("With --screenshot: the pictures to save (summary, memory, timeline, "
                     "communication, sweep, validation, estimate, invalid-knob); default all."),
      QStringLiteral("list"));
  const QCommandLineOption prefix(QStringLiteral("prefix"), QStringLiteral("With --screenshot: file name prefix."),
                                  QStringLiteral("prefix"));
  parser.addOption(views);
  parser.addOption(prefix);
  parser.addOption(measured);
  parser.addOption(sweep);
  parser.addOption(screenshot);
  parser.process(app);

  clustersim::gui::Dashboard dashboard;
  const QStringList args = parser.positionalArguments();
  if (!args.isEmpty()) {
    const auto error = dashboard.document().load_file(args.front());
    if (!error.valid()) {
      std::fprintf(stderr, "clustersim-gui: %s\n", error.message.toLocal8Bit().constData());
      return 2;
    }
  } else {
    QString origin;
    dashboard.document().set_json(clustersim::gui::Dashboard::default_scenario_json(&origin), origin);
  }

  clustersim::gui::MainWindow window(dashboard);
  if (parser.isSet(screenshot)) {
    clustersim::gui::ScreenshotOptions options;
    options.dir = parser.value(screenshot);
    options.measured_trace = parser.value(measured);
    options.sweep_csv = parser.value(sweep);
    if (parser.isSet(views)) options.views = parser.value(views).split(',', Qt::SkipEmptyParts);
    options.prefix = parser.value(prefix);
    QStringList written;
    const QString error = clustersim::gui::take_screenshots(window, dashboard, options, &written);
    for (const QString& f : written) std::printf("%s\n", f.toLocal8Bit().constData());
    if (!error.isEmpty()) {
      std::fprintf(stderr, "clustersim-gui: %s\n", error.toLocal8Bit().constData());
      return 3;
    }
    return 0;
  }
  window.show();
  if (parser.isSet(sweep))
    if (const QString e = window.sweep_view()->load_csv(parser.value(sweep)); !e.isEmpty())
      std::fprintf(stderr, "clustersim-gui: %s\n", e.toLocal8Bit().constData());
  if (parser.isSet(measured)) {
    window.tabs()->setCurrentWidget(window.validation_view());
    window.validation_view()->load_measured(parser.value(measured));
  }
  return app.exec();
}
