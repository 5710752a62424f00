// MemoryView: stacked memory bars by role with the capacity line.
#include "views/memory_view.hpp"

#include <algorithm>

#include <QBarCategoryAxis>
#include <QBarSet>
#include <QChart>
#include <QChartView>
#include <QHeaderView>
#include <QLabel>
#include <QLineSeries>
#include <QSplitter>
#include <QStackedBarSeries>
#include <QTableView>
#include <QVBoxLayout>
#include <QValueAxis>

#include "clustersim/reports/format.hpp"
#include "core/dashboard.hpp"
#include "core/op_colors.hpp"

namespace clustersim::gui {

MemoryView::MemoryView(Dashboard& dashboard, QWidget* parent) : QWidget(parent), dashboard_(dashboard) {
  auto* layout = new QVBoxLayout(this);
  note_ = new QLabel;
  note_->setWordWrap(true);
  layout->addWidget(note_);
  auto* split = new QSplitter(Qt::Vertical);
  auto* chart = new QChart;
  chart->setTitle(QStringLiteral("Memory at the peak, by role (GiB)"));
  chart->legend()->setAlignment(Qt::AlignRight);
  chart->setMargins(QMargins(4, 4, 4, 4));
  view_ = new QChartView(chart);
  view_->setRenderHint(QPainter::Antialiasing);
  split->addWidget(view_);
  table_ = new QTableView;
  table_->setModel(&dashboard_.memory());
  table_->verticalHeader()->hide();
  table_->horizontalHeader()->setSectionResizeMode(QHeaderView::ResizeToContents);
  split->addWidget(table_);
  split->setStretchFactor(0, 3);
  split->setStretchFactor(1, 1);
  layout->addWidget(split, 1);
  connect(&dashboard_, &Dashboard::result_applied, this, &MemoryView::refresh);
  refresh();
}

QWidget* MemoryView::export_target() {
  return view_;
}
QChart* MemoryView::chart() const {
  return view_->chart();
}

void MemoryView::refresh() {
  QChart* chart = view_->chart();
  chart->removeAllSeries();
  for (QAbstractAxis* axis : chart->axes()) {
    chart->removeAxis(axis);
    delete axis;
  }
  const MemoryModel& m = dashboard_.memory();
  if (m.categories().empty()) {
    note_->setText(QStringLiteral("No memory records in this prediction."));
    return;
  }
  const double gib = 1024.0 * 1024.0 * 1024.0;
  auto* bars = new QStackedBarSeries;
  for (int role = 0; role < static_cast<int>(m.roles().size()); ++role) {
    auto* set = new QBarSet(m.role_label(role));
    set->setColor(memory_role_color(role));
    set->setBorderColor(memory_role_color(role).darker(115));
    for (const auto& c : m.categories())
      set->append(static_cast<double>(c.bytes[static_cast<std::size_t>(role)]) / gib);
    bars->append(set);
  }
  bars->setBarWidth(0.6);
  chart->addSeries(bars);

  // Many bars: the short labels (program names), slanted.
  const bool many = m.categories().size() > 6;
  QStringList labels;
  for (const auto& c : m.categories()) labels << (many ? c.short_label : c.label);
  auto* x = new QBarCategoryAxis;
  x->append(labels);
  if (many) x->setLabelsAngle(-45);
  chart->addAxis(x, Qt::AlignBottom);
  bars->attachAxis(x);
  auto* y = new QValueAxis;
  y->setTitleText(QStringLiteral("GiB"));
  y->setLabelFormat(QStringLiteral("%.3g"));
  const double cap = static_cast<double>(m.capacity_bytes()) / gib;
  const double peak = static_cast<double>(m.max_peak_bytes()) / gib;
  y->setRange(0.0, std::max({cap, peak, 1e-6}) * 1.08);
  chart->addAxis(y, Qt::AlignLeft);
  bars->attachAxis(y);

  if (cap > 0) {
    auto* line = new QLineSeries;
    line->setName(QStringLiteral("usable capacity"));
    QPen pen(QColor(0xc0, 0x10, 0x10));
    pen.setWidth(2);
    pen.setStyle(Qt::DashLine);
    line->setPen(pen);
    const double n = static_cast<double>(m.categories().size());
    line->append(-0.5, cap);
    line->append(n - 0.5, cap);
    chart->addSeries(line);
    line->attachAxis(x);
    line->attachAxis(y);
  }

  const auto& r = dashboard_.current();
  QString text = QStringLiteral("Peak %1 of %2 usable per GPU")
                     .arg(QString::fromStdString(reports::format_bytes(m.max_peak_bytes())),
                          QString::fromStdString(reports::format_bytes(m.capacity_bytes())));
  if (r && r->trace.ranks.size() < static_cast<std::size_t>(r->world_size))
    text += QStringLiteral(" - %1 representative ranks of %2 (ranks with the same program and position behave alike)")
                .arg(r->trace.ranks.size())
                .arg(r->world_size);
  note_->setText(text);
}

}  // namespace clustersim::gui
