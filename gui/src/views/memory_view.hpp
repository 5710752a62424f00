// The Memory tab: a stacked bar per recorded rank (in practice one per pipeline stage) of the bytes
// alive at its peak, by tensor role, with the usable capacity as a line across (QStackedBarSeries +
// QLineSeries on shared axes), and the MemoryModel table below.
#pragma once

#include <QWidget>

#include "views/chart_export.hpp"

class QChart;
class QChartView;
class QLabel;
class QTableView;

namespace clustersim::gui {

class Dashboard;

class MemoryView : public QWidget, public ExportableView {
  Q_OBJECT
 public:
  explicit MemoryView(Dashboard& dashboard, QWidget* parent = nullptr);

  QWidget* export_target() override;
  QString export_name() const override { return QStringLiteral("memory"); }
  QChart* chart() const;

  void refresh();

 private:
  Dashboard& dashboard_;
  QChartView* view_ = nullptr;
  QTableView* table_ = nullptr;
  QLabel* note_ = nullptr;
};

}  // namespace clustersim::gui
