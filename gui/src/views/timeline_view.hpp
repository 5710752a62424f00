// The Timeline tab: the predicted step as a Gantt chart of ops per rank and stream (TimelineWidget
// over the dashboard's TimelineModel), with a Fit button and a line saying how much is drawn.
#pragma once

#include <QWidget>

#include "views/chart_export.hpp"

class QLabel;

namespace clustersim::gui {

class Dashboard;
class TimelineWidget;

class TimelineView : public QWidget, public ExportableView {
  Q_OBJECT
 public:
  explicit TimelineView(Dashboard& dashboard, QWidget* parent = nullptr);

  QWidget* export_target() override;
  QString export_name() const override { return QStringLiteral("timeline"); }
  TimelineWidget* timeline() const { return widget_; }

  void refresh();

 private:
  Dashboard& dashboard_;
  TimelineWidget* widget_ = nullptr;
  QLabel* info_ = nullptr;
};

}  // namespace clustersim::gui
