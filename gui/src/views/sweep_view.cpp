// SweepView: grid controls, throughput-vs-memory scatter with the Pareto front, point selection.
#include "views/sweep_view.hpp"

#include <algorithm>

#include <QChart>
#include <QChartView>
#include <QCheckBox>
#include <QComboBox>
#include <QFileDialog>
#include <QHBoxLayout>
#include <QHeaderView>
#include <QLabel>
#include <QLineEdit>
#include <QLineSeries>
#include <QProgressBar>
#include <QPushButton>
#include <QScatterSeries>
#include <QSplitter>
#include <QTableView>
#include <QVBoxLayout>
#include <QValueAxis>

#include "clustersim/plan/error.hpp"
#include "core/dashboard.hpp"

namespace clustersim::gui {

namespace {
constexpr double kGiB = 1024.0 * 1024.0 * 1024.0;
}

SweepView::SweepView(Dashboard& dashboard, QWidget* parent) : QWidget(parent), dashboard_(dashboard) {
  auto* layout = new QVBoxLayout(this);
  auto* controls = new QHBoxLayout;
  auto* load = new QPushButton(QStringLiteral("Load sweep CSV…"));
  controls->addWidget(load);
  controls->addSpacing(12);
  knob1_ = new QComboBox;
  knob2_ = new QComboBox;
  knob2_->addItem(QStringLiteral("(none)"), QString());
  for (const Knob& k : dashboard_.knobs()) {
    if (k.kind == KnobKind::boolean) continue;
    knob1_->addItem(QString::fromStdString(k.label), QString::fromStdString(k.id));
    knob2_->addItem(QString::fromStdString(k.label), QString::fromStdString(k.id));
  }
  knob1_->setCurrentIndex(std::max(0, knob1_->findData(QStringLiteral("tp"))));
  knob2_->setCurrentIndex(std::max(0, knob2_->findData(QStringLiteral("micro_batch"))));
  values1_ = new QLineEdit(QStringLiteral("1, 2, 4, 8"));
  values2_ = new QLineEdit(QStringLiteral("1, 2, 4"));
  values1_->setToolTip(QStringLiteral("comma-separated values; \"auto\" removes the key"));
  values2_->setToolTip(values1_->toolTip());
  controls->addWidget(new QLabel(QStringLiteral("Grid:")));
  controls->addWidget(knob1_);
  controls->addWidget(values1_, 1);
  controls->addWidget(new QLabel(QStringLiteral("×")));
  controls->addWidget(knob2_);
  controls->addWidget(values2_, 1);
  derive_dp_ = new QCheckBox(QStringLiteral("dp auto"));
  derive_dp_->setChecked(true);
  derive_dp_->setToolTip(QStringLiteral("When the grid varies tp or pp, let dp follow GPUs / (tp x pp)"));
  controls->addWidget(derive_dp_);
  run_ = new QPushButton(QStringLiteral("Run"));
  cancel_ = new QPushButton(QStringLiteral("Cancel"));
  cancel_->setEnabled(false);
  controls->addWidget(run_);
  controls->addWidget(cancel_);
  progress_ = new QProgressBar;
  progress_->setMaximumWidth(140);
  progress_->setRange(0, 1);
  progress_->setValue(0);
  controls->addWidget(progress_);
  layout->addLayout(controls);
  status_ = new QLabel(QStringLiteral("Load a sweep CSV or run a grid; click a point to load its configuration."));
  status_->setWordWrap(true);
  layout->addWidget(status_);

  auto* split = new QSplitter(Qt::Vertical);
  auto* chart = new QChart;
  chart->setTitle(QStringLiteral("Throughput vs peak memory"));
  chart->setMargins(QMargins(4, 4, 4, 4));
  chart->legend()->setAlignment(Qt::AlignBottom);
  view_ = new QChartView(chart);
  view_->setRenderHint(QPainter::Antialiasing);
  split->addWidget(view_);
  table_ = new QTableView;
  table_->setModel(&dashboard_.sweep());
  table_->setSelectionBehavior(QAbstractItemView::SelectRows);
  table_->horizontalHeader()->setSectionResizeMode(QHeaderView::ResizeToContents);
  split->addWidget(table_);
  split->setStretchFactor(0, 3);
  split->setStretchFactor(1, 2);
  layout->addWidget(split, 1);

  connect(load, &QPushButton::clicked, this, [this] {
    const QString path = QFileDialog::getOpenFileName(this, QStringLiteral("Load sweep CSV"), {},
                                                      QStringLiteral("CSV (*.csv);;All files (*)"));
    if (!path.isEmpty()) load_csv(path);
  });
  connect(run_, &QPushButton::clicked, this, &SweepView::start_from_controls);
  connect(cancel_, &QPushButton::clicked, &dashboard_.sweep_runner(), &SweepRunner::cancel);
  connect(&dashboard_.sweep_runner(), &SweepRunner::progress, this, [this](int done, int total) {
    progress_->setRange(0, std::max(1, total));
    progress_->setValue(done);
  });
  connect(&dashboard_.sweep_runner(), &SweepRunner::finished, this, &SweepView::on_finished);
  connect(&dashboard_.sweep(), &SweepModel::loaded, this, &SweepView::refresh);
  connect(table_, &QTableView::doubleClicked, this, [this](const QModelIndex& index) { select_point(index.row()); });
  refresh();
}

QWidget* SweepView::export_target() {
  return view_;
}
QChart* SweepView::chart() const {
  return view_->chart();
}

QString SweepView::load_csv(const QString& path) {
  const QString error = dashboard_.sweep().load_csv_file(path);
  status_->setText(error.isEmpty() ? QStringLiteral("%1: %2 points").arg(path).arg(dashboard_.sweep().points().size())
                                   : error);
  status_->setStyleSheet(error.isEmpty() ? QString() : QStringLiteral("color:#c01010;"));
  return error;
}

void SweepView::run_grid(const QString& knob1, const QString& values1, const QString& knob2, const QString& values2) {
  knob1_->setCurrentIndex(std::max(0, knob1_->findData(knob1)));
  values1_->setText(values1);
  knob2_->setCurrentIndex(std::max(0, knob2_->findData(knob2)));
  values2_->setText(values2);
  start_from_controls();
}

void SweepView::start_from_controls() {
  std::vector<SweepAxis> axes;
  const auto add_axis = [&](QComboBox* combo, QLineEdit* edit) {
    const Knob* knob = find_knob(dashboard_.knobs(), combo->currentData().toString().toStdString());
    if (!knob) return;
    SweepAxis axis;
    axis.path = knob->json_path;
    for (const QString& v : edit->text().split(',', Qt::SkipEmptyParts))
      axis.values.push_back(knob_value_from_text(*knob, v.toStdString()));
    if (!axis.values.empty()) axes.push_back(std::move(axis));
  };
  add_axis(knob1_, values1_);
  add_axis(knob2_, values2_);
  if (axes.empty()) {
    status_->setText(QStringLiteral("Choose a knob and at least one value."));
    return;
  }
  run_->setEnabled(false);
  cancel_->setEnabled(true);
  status_->setStyleSheet(QString());
  status_->setText(QStringLiteral("Running the grid…"));
  dashboard_.sweep_runner().start(sweep_base(dashboard_.document().json(), axes, derive_dp_->isChecked()), axes);
}

void SweepView::on_finished(const SweepOutput& output) {
  run_->setEnabled(true);
  cancel_->setEnabled(false);
  const QString error = dashboard_.sweep().load_csv_text(output.csv);
  QString text = output.cancelled ? QStringLiteral("Cancelled: ") : QString();
  text += QStringLiteral("%1 points").arg(output.points);
  if (!output.skipped.isEmpty())
    text += QStringLiteral(", %1 skipped (first: %2)").arg(output.skipped.size()).arg(output.skipped.front());
  if (!error.isEmpty()) text += " - " + error;
  status_->setText(text);
}

void SweepView::select_point(int row) {
  const auto& points = dashboard_.sweep().points();
  if (row < 0 || row >= static_cast<int>(points.size())) return;
  table_->selectRow(row);
  const auto& p = points[static_cast<std::size_t>(row)];
  if (p.assignments.empty()) {
    status_->setText(QStringLiteral("This point names no scenario parameters to load."));
    return;
  }
  dashboard_.apply_sweep_point(row);
  status_->setText(QStringLiteral("Loaded %1").arg(p.label));
}

void SweepView::refresh() {
  QChart* chart = view_->chart();
  chart->removeAllSeries();
  for (QAbstractAxis* axis : chart->axes()) {
    chart->removeAxis(axis);
    delete axis;
  }
  const SweepModel& m = dashboard_.sweep();
  if (m.points().empty()) return;
  auto* fits = new QScatterSeries;
  fits->setName(QStringLiteral("fits"));
  fits->setColor(QColor(0x1f, 0x77, 0xb4));
  fits->setMarkerSize(9);
  auto* oom = new QScatterSeries;
  oom->setName(QStringLiteral("does not fit"));
  oom->setColor(QColor(0xbb, 0xbb, 0xbb));
  oom->setMarkerSize(9);
  auto* front = new QLineSeries;
  front->setName(QStringLiteral("Pareto front"));
  QPen pen(QColor(0xff, 0x7f, 0x0e));
  pen.setWidth(2);
  front->setPen(pen);
  auto* front_points = new QScatterSeries;
  front_points->setName(QStringLiteral("Pareto-optimal"));
  front_points->setColor(QColor(0xff, 0x7f, 0x0e));
  front_points->setMarkerSize(13);
  double max_mem = 0, max_thr = 0;
  for (const auto& p : m.points()) max_thr = std::max(max_thr, p.throughput);
  // Throughput in k or M units so the axis reads "250" rather than "2.5e+05".
  const double scale = max_thr >= 1e7 ? 1e6 : (max_thr >= 1e4 ? 1e3 : 1.0);
  const QString prefix = scale == 1e6 ? QStringLiteral("M ") : (scale == 1e3 ? QStringLiteral("k ") : QString());
  max_thr /= scale;
  for (const auto& p : m.points()) {
    const double mem = static_cast<double>(p.peak_memory_bytes) / kGiB;
    (p.fits ? fits : oom)->append(mem, p.throughput / scale);
    max_mem = std::max(max_mem, mem);
  }
  for (int i : m.pareto_front()) {
    const auto& p = m.points()[static_cast<std::size_t>(i)];
    front->append(static_cast<double>(p.peak_memory_bytes) / kGiB, p.throughput / scale);
    front_points->append(static_cast<double>(p.peak_memory_bytes) / kGiB, p.throughput / scale);
  }
  auto* x = new QValueAxis;
  x->setTitleText(QStringLiteral("peak memory per GPU (GiB)"));
  x->setRange(0.0, std::max(1e-6, max_mem * 1.1));
  x->setLabelFormat(QStringLiteral("%.3g"));
  auto* y = new QValueAxis;
  y->setTitleText(prefix + m.throughput_unit());
  y->setRange(0.0, std::max(1e-6, max_thr * 1.1));
  y->setLabelFormat(QStringLiteral("%.3g"));
  chart->addAxis(x, Qt::AlignBottom);
  chart->addAxis(y, Qt::AlignLeft);
  for (QXYSeries* s : std::initializer_list<QXYSeries*>{front, front_points, fits, oom}) {  // points above the line
    chart->addSeries(s);
    s->attachAxis(x);
    s->attachAxis(y);
  }
  const double mem_span = std::max(1e-6, max_mem), thr_span = std::max(1e-6, max_thr);
  for (QScatterSeries* s : {fits, oom, front_points}) {
    connect(s, &QScatterSeries::clicked, this, [this, mem_span, thr_span, scale](const QPointF& point) {
      select_point(dashboard_.sweep().nearest_point(point.x(), point.y() * scale, mem_span, thr_span * scale));
    });
  }
}

}  // namespace clustersim::gui
