// CommView: exposed vs overlapped communication per group and collective.
#include "views/comm_view.hpp"

#include <algorithm>

#include <QBarCategoryAxis>
#include <QBarSet>
#include <QChart>
#include <QChartView>
#include <QHeaderView>
#include <QHorizontalStackedBarSeries>
#include <QLabel>
#include <QSplitter>
#include <QTableView>
#include <QVBoxLayout>
#include <QValueAxis>

#include "clustersim/reports/format.hpp"
#include "core/dashboard.hpp"

namespace clustersim::gui {

CommView::CommView(Dashboard& dashboard, QWidget* parent) : QWidget(parent), dashboard_(dashboard) {
  auto* layout = new QVBoxLayout(this);
  note_ = new QLabel;
  note_->setWordWrap(true);
  layout->addWidget(note_);
  auto* split = new QSplitter(Qt::Vertical);
  auto* chart = new QChart;
  chart->setTitle(QStringLiteral("Communication per step on the critical rank (ms)"));
  chart->legend()->setAlignment(Qt::AlignBottom);
  chart->setMargins(QMargins(4, 4, 4, 4));
  view_ = new QChartView(chart);
  view_->setRenderHint(QPainter::Antialiasing);
  split->addWidget(view_);
  table_ = new QTableView;
  table_->setModel(&dashboard_.comm());
  table_->verticalHeader()->hide();
  table_->horizontalHeader()->setSectionResizeMode(QHeaderView::Stretch);
  split->addWidget(table_);
  split->setStretchFactor(0, 3);
  split->setStretchFactor(1, 2);
  layout->addWidget(split, 1);
  connect(&dashboard_, &Dashboard::result_applied, this, &CommView::refresh);
  refresh();
}

QWidget* CommView::export_target() {
  return view_;
}
QChart* CommView::chart() const {
  return view_->chart();
}

void CommView::refresh() {
  QChart* chart = view_->chart();
  chart->removeAllSeries();
  for (QAbstractAxis* axis : chart->axes()) {
    chart->removeAxis(axis);
    delete axis;
  }
  const CommModel& m = dashboard_.comm();
  if (m.rows().empty()) {
    note_->setText(QStringLiteral("This prediction has no communication."));
    return;
  }
  auto* exposed = new QBarSet(QStringLiteral("exposed (compute idle)"));
  exposed->setColor(QColor(0xd6, 0x27, 0x28));
  auto* overlapped = new QBarSet(QStringLiteral("overlapped with compute"));
  overlapped->setColor(QColor(0xff, 0xbb, 0x78));
  QStringList labels;
  // Horizontal bars list bottom-up; reverse so the largest is on top.
  double max_ms = 0.0;
  for (int i = static_cast<int>(m.rows().size()) - 1; i >= 0; --i) {
    const auto& r = m.rows()[static_cast<std::size_t>(i)];
    exposed->append(r.exposed_s * 1e3);
    overlapped->append(std::max(0.0, r.time_s - r.exposed_s) * 1e3);
    labels << m.label(i) + QStringLiteral(" (%1)").arg(QString::fromStdString(reports::format_bytes(r.bytes)));
    max_ms = std::max(max_ms, r.time_s * 1e3);
  }
  auto* series = new QHorizontalStackedBarSeries;
  series->append({exposed, overlapped});
  series->setBarWidth(0.65);
  chart->addSeries(series);
  auto* y = new QBarCategoryAxis;
  y->append(labels);
  chart->addAxis(y, Qt::AlignLeft);
  series->attachAxis(y);
  auto* x = new QValueAxis;
  x->setTitleText(QStringLiteral("ms per step"));
  x->setLabelFormat(QStringLiteral("%.3g"));
  x->setRange(0.0, std::max(1e-9, max_ms * 1.05));
  chart->addAxis(x, Qt::AlignBottom);
  series->attachAxis(x);

  note_->setText(QStringLiteral("Total %1 per step, of which %2 exposed (compute stream idle).")
                     .arg(QString::fromStdString(reports::format_duration_s(m.total_time_s())),
                          QString::fromStdString(reports::format_duration_s(m.total_exposed_s()))));
}

}  // namespace clustersim::gui
