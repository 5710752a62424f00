// The `--screenshot DIR` mode: drives the real window offscreen and saves one PNG per tab at a
// fixed size (1280 x 800 by default) for docs/screenshots/. It waits for the first prediction, runs
// a small sweep grid (or loads a sweep CSV), loads a measured trace when given, saves the tabs, and
// finally shows an invalid knob (the inline error and the stale banner). Also used by the tests.
#pragma once

#include <QSize>
#include <QString>
#include <QStringList>

namespace clustersim::gui {

class Dashboard;
class MainWindow;

struct ScreenshotOptions {
  QString dir;
  QString measured_trace;  // optional: a measured trace for the Validation tab
  QString sweep_csv;       // optional: a sweep CSV; otherwise a small grid is run
  bool run_sweep = true;
  bool invalid_example = true;  // also save "estimate.png" (a knob change before its simulation) and "invalid-knob.png"
  // Which pictures to save: summary, memory, timeline, communication, sweep, validation, estimate,
  // invalid-knob; empty = all.
  QStringList views;
  QString prefix;  // file name prefix, e.g. "gpt3-175b-" -> gpt3-175b-timeline.png
  QSize size{1280, 800};
  int timeout_ms = 180000;
};

// Runs the event loop until the dashboard shows a prediction of the current document (not stale,
// not computing) or the document is invalid. False on timeout.
bool wait_for_prediction(Dashboard& dashboard, int timeout_ms);

// Saves the screenshots; returns an error message (empty on success) and the files written.
QString take_screenshots(MainWindow& window, Dashboard& dashboard, const ScreenshotOptions& options,
                         QStringList* written = nullptr);

}  // namespace clustersim::gui
