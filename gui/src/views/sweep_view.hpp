// The Sweep tab: load a sweep CSV (`clustersim sweep` output) or run a small grid over one or two
// knobs in-process (SweepRunner, with progress and cancel), then see throughput against peak memory
// as a scatter (points that fit, points that do not, the Pareto front as a line). Clicking a point
// (or double-clicking a table row) loads that configuration into the scenario.
#pragma once

#include <QWidget>

#include "views/chart_export.hpp"

class QChart;
class QCheckBox;
class QChartView;
class QComboBox;
class QLabel;
class QLineEdit;
class QProgressBar;
class QPushButton;
class QTableView;

namespace clustersim::gui {

class Dashboard;
struct SweepOutput;

class SweepView : public QWidget, public ExportableView {
  Q_OBJECT
 public:
  explicit SweepView(Dashboard& dashboard, QWidget* parent = nullptr);

  QWidget* export_target() override;
  QString export_name() const override { return QStringLiteral("sweep"); }
  QChart* chart() const;

  // Sets up and starts a grid: knob ids and comma-separated values (second knob id may be empty).
  void run_grid(const QString& knob1, const QString& values1, const QString& knob2 = {}, const QString& values2 = {});
  // Loads a CSV file; returns the error message (also shown inline).
  QString load_csv(const QString& path);
  // Loads the configuration of a point, as a click on it does.
  void select_point(int row);
  QLabel* status() const { return status_; }

  void refresh();

 private:
  void start_from_controls();
  void on_finished(const SweepOutput& output);

  Dashboard& dashboard_;
  QChartView* view_ = nullptr;
  QTableView* table_ = nullptr;
  QComboBox* knob1_ = nullptr;
  QComboBox* knob2_ = nullptr;
  QLineEdit* values1_ = nullptr;
  QLineEdit* values2_ = nullptr;
  QCheckBox* derive_dp_ = nullptr;
  QPushButton* run_ = nullptr;
  QPushButton* cancel_ = nullptr;
  QProgressBar* progress_ = nullptr;
  QLabel* status_ = nullptr;
};

}  // namespace clustersim::gui
