// The dashboard window: the scenario panel docked on the left, the views as tabs (Summary, Memory,
// Timeline, Communication, Sweep, Validation), File and View menus (open/save, export the current
// view as PNG or SVG, export the prediction as a Chrome trace or trace JSON), and a status line
// saying whether the figures are current, being computed, or stale. Usable at 1280 x 800.
#pragma once

#include <vector>

#include <QMainWindow>

class QLabel;
class QTabWidget;

namespace clustersim::gui {

class CommView;
class Dashboard;
class ExportableView;
class MemoryView;
class ScenarioPanel;
class SummaryView;
class SweepView;
class TimelineView;
class ValidationView;

class MainWindow : public QMainWindow {
  Q_OBJECT
 public:
  explicit MainWindow(Dashboard& dashboard, QWidget* parent = nullptr);

  QTabWidget* tabs() const { return tabs_; }
  ScenarioPanel* scenario_panel() const { return panel_; }
  SummaryView* summary_view() const { return summary_; }
  MemoryView* memory_view() const { return memory_; }
  TimelineView* timeline_view() const { return timeline_; }
  CommView* comm_view() const { return comm_; }
  SweepView* sweep_view() const { return sweep_; }
  ValidationView* validation_view() const { return validation_; }
  // The exportable view of each tab, in tab order.
  const std::vector<ExportableView*>& views() const { return views_; }
  QLabel* status_label() const { return status_; }

  // Exports the current tab's picture (PNG or SVG by extension). Error message or empty.
  QString export_current_view(const QString& path);
  // Writes the current prediction as a Chrome trace. Error message or empty.
  QString export_chrome_trace(const QString& path);

 private:
  void build_menus();
  void update_status();
  void update_title();

  Dashboard& dashboard_;
  QTabWidget* tabs_ = nullptr;
  ScenarioPanel* panel_ = nullptr;
  SummaryView* summary_ = nullptr;
  MemoryView* memory_ = nullptr;
  TimelineView* timeline_ = nullptr;
  CommView* comm_ = nullptr;
  SweepView* sweep_ = nullptr;
  ValidationView* validation_ = nullptr;
  std::vector<ExportableView*> views_;
  QLabel* status_ = nullptr;
};

}  // namespace clustersim::gui
