// SummaryView: headline, figures table, step breakdown and memory charts.
#include "views/summary_view.hpp"

#include <algorithm>

#include <QBarCategoryAxis>
#include <QBarSet>
#include <QChart>
#include <QChartView>
#include <QHBoxLayout>
#include <QHeaderView>
#include <QHorizontalStackedBarSeries>
#include <QLabel>
#include <QTableView>
#include <QVBoxLayout>
#include <QValueAxis>

#include "clustersim/reports/format.hpp"
#include "core/dashboard.hpp"
#include "core/op_colors.hpp"

namespace clustersim::gui {

namespace {

QBarSet* bar_set(const QString& name, const QColor& color) {
  auto* set = new QBarSet(name);
  set->setColor(color);
  set->setBorderColor(color);
  set->append(0.0);
  return set;
}

QChartView* make_chart_view(QChart* chart) {
  chart->setMargins(QMargins(4, 4, 4, 4));
  chart->legend()->setAlignment(Qt::AlignBottom);
  auto* view = new QChartView(chart);
  view->setRenderHint(QPainter::Antialiasing);
  view->setMinimumHeight(150);
  return view;
}

}  // namespace

SummaryView::SummaryView(Dashboard& dashboard, QWidget* parent) : QWidget(parent), dashboard_(dashboard) {
  auto* layout = new QVBoxLayout(this);
  stale_ = new QLabel(QStringLiteral("Stale: these figures belong to the last valid scenario"));
  stale_->setStyleSheet(QStringLiteral("background:#fff3cd; color:#7a5b00; padding:4px; border:1px solid #e0c36a;"));
  stale_->setWordWrap(true);
  stale_->hide();
  layout->addWidget(stale_);
  headline_ = new QLabel(QStringLiteral("No prediction yet"));
  QFont big = headline_->font();
  big.setPointSizeF(big.pointSizeF() * 1.35);
  big.setBold(true);
  headline_->setFont(big);
  headline_->setWordWrap(true);
  layout->addWidget(headline_);

  auto* row = new QHBoxLayout;
  table_ = new QTableView;
  table_->setModel(&dashboard_.summary());
  table_->horizontalHeader()->setStretchLastSection(true);
  table_->horizontalHeader()->setSectionResizeMode(0, QHeaderView::ResizeToContents);
  table_->verticalHeader()->hide();
  table_->setSelectionMode(QAbstractItemView::NoSelection);
  table_->setMinimumWidth(380);
  row->addWidget(table_, 1);

  auto* charts = new QVBoxLayout;
  // Step breakdown, in milliseconds.
  auto* breakdown = new QChart;
  breakdown->setTitle(QStringLiteral("Where the step goes (ms)"));
  compute_ = bar_set(QStringLiteral("compute"), op_class_color(QStringLiteral("gemm")));
  exposed_ = bar_set(QStringLiteral("exposed comm"), op_class_color(QStringLiteral("comm:dp:all_reduce")));
  bubble_ = bar_set(QStringLiteral("pipeline bubble"), QColor(0xbb, 0xbb, 0xbb));
  other_ = bar_set(QStringLiteral("other"), QColor(0xe8, 0xe8, 0xe8));
  auto* series = new QHorizontalStackedBarSeries;
  series->append({compute_, exposed_, bubble_, other_});
  series->setBarWidth(0.6);
  breakdown->addSeries(series);
  auto* step_axis = new QBarCategoryAxis;
  step_axis->append(QStringLiteral("step"));
  breakdown->addAxis(step_axis, Qt::AlignLeft);
  series->attachAxis(step_axis);
  breakdown_axis_ = new QValueAxis;
  breakdown_axis_->setLabelFormat(QStringLiteral("%.3g"));
  breakdown->addAxis(breakdown_axis_, Qt::AlignBottom);
  series->attachAxis(breakdown_axis_);
  breakdown_view_ = make_chart_view(breakdown);
  charts->addWidget(breakdown_view_);

  // Peak memory against usable capacity, in GiB.
  auto* memory = new QChart;
  memory->setTitle(QStringLiteral("Peak memory vs usable capacity (GiB)"));
  used_ = bar_set(QStringLiteral("peak"), QColor(0x1f, 0x77, 0xb4));
  free_ = bar_set(QStringLiteral("headroom"), QColor(0xd8, 0xe8, 0xd0));
  over_ = bar_set(QStringLiteral("over capacity"), QColor(0xd6, 0x27, 0x28));
  auto* mseries = new QHorizontalStackedBarSeries;
  mseries->append({used_, free_, over_});
  mseries->setBarWidth(0.6);
  memory->addSeries(mseries);
  auto* mem_cat = new QBarCategoryAxis;
  mem_cat->append(QStringLiteral("GPU"));
  memory->addAxis(mem_cat, Qt::AlignLeft);
  mseries->attachAxis(mem_cat);
  memory_axis_ = new QValueAxis;
  memory_axis_->setLabelFormat(QStringLiteral("%.3g"));
  memory->addAxis(memory_axis_, Qt::AlignBottom);
  mseries->attachAxis(memory_axis_);
  memory_view_ = make_chart_view(memory);
  charts->addWidget(memory_view_);
  row->addLayout(charts, 1);
  layout->addLayout(row, 1);

  connect(&dashboard_, &Dashboard::result_applied, this, &SummaryView::refresh);
  connect(&dashboard_, &Dashboard::stale_changed, this, &SummaryView::refresh);
  connect(&dashboard_, &Dashboard::preview_applied, this, &SummaryView::refresh);
  refresh();
}

QChart* SummaryView::breakdown_chart() const {
  return breakdown_view_->chart();
}
QChart* SummaryView::memory_chart() const {
  return memory_view_->chart();
}

void SummaryView::refresh() {
  const PredictionPtr& r = dashboard_.current();
  const PreviewPtr& preview = dashboard_.preview();
  if (preview) {
    stale_->setText(
        QStringLiteral("Estimate while the simulation runs (italics): the new configuration modelled, scaled by "
                       "the last simulation"));
    stale_->setStyleSheet(QStringLiteral("background:#e3ecf8; color:#1f4e9a; padding:4px; border:1px solid #9db7e0;"));
  } else {
    stale_->setText(QStringLiteral("Stale: these figures belong to the last valid scenario"));
    stale_->setStyleSheet(QStringLiteral("background:#fff3cd; color:#7a5b00; padding:4px; border:1px solid #e0c36a;"));
  }
  stale_->setVisible(preview || (r && dashboard_.stale()));
  if (!r && !preview) return;
  using namespace reports;
  const auto headline = [&](double step_s, double tokens_per_s, double samples_per_s, double mfu, bool fits,
                            const QString& prefix) {
    QString head = prefix + QString::fromStdString(format_duration_s(step_s)) + QStringLiteral(" per step  ·  ") +
                   QString::fromStdString(tokens_per_s > 0 ? format_rate(tokens_per_s, "tokens/s")
                                                           : format_rate(samples_per_s, "samples/s")) +
                   QStringLiteral("  ·  MFU ") + QString::fromStdString(format_percent(mfu)) + QStringLiteral("  ·  ") +
                   (fits ? QStringLiteral("fits in memory") : QStringLiteral("DOES NOT FIT in memory"));
    headline_->setText(head);
    headline_->setStyleSheet(fits ? QString() : QStringLiteral("color:#c01010;"));
  };

  StepBreakdown b;
  std::int64_t peak_bytes = 0, capacity_bytes = 0;
  if (preview) {
    const Preview& p = *preview;
    headline(p.step_time_s, p.tokens_per_s, p.samples_per_s, p.mfu, p.fits, QStringLiteral("≈ "));
    b.step_s = p.step_time_s;
    b.compute_s = p.compute_s;
    b.exposed_comm_s = p.exposed_comm_s;
    b.bubble_s = p.bubble_s;
    b.other_s = p.other_s;
    peak_bytes = p.peak_memory_bytes;
    capacity_bytes = p.capacity_bytes;
  } else {
    const auto& s = r->trace.summary;
    headline(s.step_time_s, s.tokens_per_s, s.samples_per_s, s.mfu, s.fits, QString());
    b = dashboard_.summary().breakdown();
    peak_bytes = s.peak_memory_bytes;
    capacity_bytes = s.capacity_bytes;
  }
  compute_->replace(0, b.compute_s * 1e3);
  exposed_->replace(0, b.exposed_comm_s * 1e3);
  bubble_->replace(0, b.bubble_s * 1e3);
  other_->replace(0, b.other_s * 1e3);
  breakdown_axis_->setRange(0.0, std::max(1e-9, b.step_s * 1e3));

  const double gib = 1024.0 * 1024.0 * 1024.0;
  const double peak = static_cast<double>(peak_bytes) / gib;
  const double cap = static_cast<double>(capacity_bytes) / gib;
  used_->replace(0, cap > 0 ? std::min(peak, cap) : peak);
  free_->replace(0, std::max(0.0, cap - peak));
  over_->replace(0, cap > 0 ? std::max(0.0, peak - cap) : 0.0);
  memory_axis_->setRange(0.0, std::max({peak, cap, 1e-6}));
}

}  // namespace clustersim::gui
