// The Summary tab: the headline of the current prediction (step time, throughput, MFU, fits), the
// SummaryModel table, and two small charts: where the step goes (compute, exposed communication,
// pipeline bubble, other) and peak memory against capacity. A banner says when the figures are
// stale (the scenario has changed or is invalid) or estimated (a preview stands in for the
// simulation that is running; the headline and charts then show the preview).
#pragma once

#include <QWidget>

#include "views/chart_export.hpp"

class QChart;
class QChartView;
class QLabel;
class QTableView;
class QBarSet;
class QHorizontalStackedBarSeries;
class QValueAxis;

namespace clustersim::gui {

class Dashboard;

class SummaryView : public QWidget, public ExportableView {
  Q_OBJECT
 public:
  explicit SummaryView(Dashboard& dashboard, QWidget* parent = nullptr);

  QWidget* export_target() override { return this; }
  QString export_name() const override { return QStringLiteral("summary"); }

  QChart* breakdown_chart() const;
  QChart* memory_chart() const;
  QLabel* stale_banner() const { return stale_; }
  QLabel* headline() const { return headline_; }

  void refresh();

 private:
  Dashboard& dashboard_;
  QLabel* headline_ = nullptr;
  QLabel* stale_ = nullptr;
  QTableView* table_ = nullptr;
  QChartView* breakdown_view_ = nullptr;
  QChartView* memory_view_ = nullptr;
  QBarSet* compute_ = nullptr;
  QBarSet* exposed_ = nullptr;
  QBarSet* bubble_ = nullptr;
  QBarSet* other_ = nullptr;
  QBarSet* used_ = nullptr;
  QBarSet* free_ = nullptr;
  QBarSet* over_ = nullptr;
  QValueAxis* breakdown_axis_ = nullptr;
  QValueAxis* memory_axis_ = nullptr;
};

}  // namespace clustersim::gui
