// TimelineView: the predicted timeline tab.
#include "views/timeline_view.hpp"

#include <QHBoxLayout>
#include <QLabel>
#include <QPushButton>
#include <QVBoxLayout>

#include "clustersim/reports/format.hpp"
#include "core/dashboard.hpp"
#include "views/timeline_widget.hpp"

namespace clustersim::gui {

TimelineView::TimelineView(Dashboard& dashboard, QWidget* parent) : QWidget(parent), dashboard_(dashboard) {
  auto* layout = new QVBoxLayout(this);
  auto* bar = new QHBoxLayout;
  info_ = new QLabel;
  bar->addWidget(info_, 1);
  auto* hint = new QLabel(QStringLiteral("wheel: zoom · drag: pan · Shift+wheel: lanes · hover: op details"));
  hint->setStyleSheet(QStringLiteral("color:#666;"));
  bar->addWidget(hint);
  auto* fit = new QPushButton(QStringLiteral("Fit"));
  bar->addWidget(fit);
  layout->addLayout(bar);
  widget_ = new TimelineWidget;
  widget_->set_title(QStringLiteral("predicted"));
  widget_->set_model(&dashboard_.timeline());
  layout->addWidget(widget_, 1);
  connect(fit, &QPushButton::clicked, widget_, &TimelineWidget::fit);
  connect(&dashboard_, &Dashboard::result_applied, this, &TimelineView::refresh);
  refresh();
}

QWidget* TimelineView::export_target() {
  return widget_;
}

void TimelineView::refresh() {
  widget_->model_changed();
  const TimelineModel& m = dashboard_.timeline();
  if (m.empty()) {
    info_->setText(QStringLiteral("No op spans in this prediction."));
    return;
  }
  info_->setText(QStringLiteral("%1 op spans on %2 lanes · step %3")
                     .arg(m.span_count())
                     .arg(m.lane_count())
                     .arg(QString::fromStdString(reports::format_duration_ns(static_cast<double>(m.end_ns())))));
}

}  // namespace clustersim::gui
