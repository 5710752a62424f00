// The Communication tab: time per step of each (group kind, collective type) on the critical
// rank, split into exposed (compute stream idle) and overlapped parts (stacked horizontal bars),
// and the CommModel table with counts and bytes.
#pragma once

#include <QWidget>

#include "views/chart_export.hpp"

class QChart;
class QChartView;
class QLabel;
class QTableView;

namespace clustersim::gui {

class Dashboard;

class CommView : public QWidget, public ExportableView {
  Q_OBJECT
 public:
  explicit CommView(Dashboard& dashboard, QWidget* parent = nullptr);

  QWidget* export_target() override;
  QString export_name() const override { return QStringLiteral("communication"); }
  QChart* chart() const;

  void refresh();

 private:
  Dashboard& dashboard_;
  QChartView* view_ = nullptr;
  QTableView* table_ = nullptr;
  QLabel* note_ = nullptr;
};

}  // namespace clustersim::gui
