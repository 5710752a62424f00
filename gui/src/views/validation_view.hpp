// The Validation tab: predicted against measured. Load a measured trace written by the executor, or
// start `clustersim validate SCENARIO --backend cpu --format json` (ValidateProcess, with progress
// and cancel); the view shows the verdict, the per-op-class table (predicted, measured, error %,
// within tolerance), the comparison's checks, and the two timelines one above the other on a shared
// time axis (zoom and pan move both).
#pragma once

#include <QWidget>

#include "views/chart_export.hpp"

class QLabel;
class QProgressBar;
class QPushButton;
class QTableView;

namespace clustersim::gui {

class Dashboard;
class TimelineViewport;
class TimelineWidget;
class ValidateProcess;

class ValidationView : public QWidget, public ExportableView {
  Q_OBJECT
 public:
  explicit ValidationView(Dashboard& dashboard, QWidget* parent = nullptr);

  QWidget* export_target() override;
  QString export_name() const override { return QStringLiteral("validation"); }

  // Loads a measured trace file; returns the error message (also shown inline).
  QString load_measured(const QString& path);
  // Starts a validate run of the current scenario.
  void run_validate();
  void cancel_validate();

  TimelineWidget* predicted_timeline() const { return predicted_; }
  TimelineWidget* measured_timeline() const { return measured_; }
  QTableView* classes_table() const { return classes_; }
  QTableView* checks_table() const { return checks_; }
  QLabel* verdict() const { return verdict_; }
  QLabel* message() const { return message_; }
  ValidateProcess* process() const { return process_; }

  void refresh();

 private:
  Dashboard& dashboard_;
  ValidateProcess* process_ = nullptr;
  QLabel* verdict_ = nullptr;
  QLabel* message_ = nullptr;
  QProgressBar* progress_ = nullptr;
  QPushButton* run_ = nullptr;
  QPushButton* cancel_ = nullptr;
  QTableView* classes_ = nullptr;
  QTableView* checks_ = nullptr;
  TimelineViewport* viewport_ = nullptr;
  TimelineWidget* predicted_ = nullptr;
  TimelineWidget* measured_ = nullptr;
  QWidget* compare_panel_ = nullptr;
};

}  // namespace clustersim::gui
