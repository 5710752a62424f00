// ValidationView: measured-trace loading, validate runs, comparison tables and aligned timelines.
#include "views/validation_view.hpp"

#include <algorithm>

#include <QFileDialog>
#include <QHBoxLayout>
#include <QHeaderView>
#include <QLabel>
#include <QProgressBar>
#include <QPushButton>
#include <QSplitter>
#include <QTableView>
#include <QVBoxLayout>

#include "core/dashboard.hpp"
#include "core/validate_process.hpp"
#include "views/timeline_widget.hpp"

namespace clustersim::gui {

namespace {

QTableView* comparison_table(QAbstractItemModel* model) {
  auto* t = new QTableView;
  t->setModel(model);
  t->verticalHeader()->hide();
  t->horizontalHeader()->setSectionResizeMode(QHeaderView::ResizeToContents);
  t->horizontalHeader()->setStretchLastSection(true);
  t->setSelectionMode(QAbstractItemView::NoSelection);
  return t;
}

}  // namespace

ValidationView::ValidationView(Dashboard& dashboard, QWidget* parent) : QWidget(parent), dashboard_(dashboard) {
  process_ = new ValidateProcess(this);
  auto* layout = new QVBoxLayout(this);
  auto* controls = new QHBoxLayout;
  auto* load = new QPushButton(QStringLiteral("Load measured trace…"));
  run_ = new QPushButton(QStringLiteral("Run validate (cpu)"));
  run_->setToolTip(QStringLiteral("Runs: %1 validate SCENARIO --backend cpu --format json").arg(process_->program()));
  cancel_ = new QPushButton(QStringLiteral("Cancel"));
  cancel_->setEnabled(false);
  progress_ = new QProgressBar;
  progress_->setMaximumWidth(160);
  progress_->setRange(0, 100);
  progress_->setValue(0);
  controls->addWidget(load);
  controls->addWidget(run_);
  controls->addWidget(cancel_);
  controls->addWidget(progress_);
  verdict_ = new QLabel;
  QFont f = verdict_->font();
  f.setBold(true);
  f.setPointSizeF(f.pointSizeF() * 1.2);
  verdict_->setFont(f);
  controls->addSpacing(12);
  controls->addWidget(verdict_, 1);
  layout->addLayout(controls);
  message_ = new QLabel(QStringLiteral(
      "Load a measured trace (clustersim.trace/1, written by `clustersim run` or `validate`) to compare it with the "
      "current prediction."));
  message_->setWordWrap(true);
  message_->setTextInteractionFlags(Qt::TextSelectableByMouse);
  layout->addWidget(message_);

  auto* split = new QSplitter(Qt::Vertical);
  auto* tables = new QSplitter(Qt::Horizontal);
  classes_ = comparison_table(dashboard_.validation().classes_model());
  checks_ = comparison_table(dashboard_.validation().checks_model());
  tables->addWidget(classes_);
  tables->addWidget(checks_);
  tables->setStretchFactor(0, 3);
  tables->setStretchFactor(1, 2);
  split->addWidget(tables);

  compare_panel_ = new QWidget;
  auto* timelines = new QVBoxLayout(compare_panel_);
  timelines->setContentsMargins(0, 0, 0, 0);
  viewport_ = new TimelineViewport(this);
  predicted_ = new TimelineWidget;
  measured_ = new TimelineWidget;
  predicted_->set_viewport(viewport_);
  measured_->set_viewport(viewport_);
  predicted_->set_model(&dashboard_.validation().predicted_timeline());
  measured_->set_model(&dashboard_.validation().measured_timeline());
  predicted_->set_title(QStringLiteral("predicted"));
  measured_->set_title(QStringLiteral("measured"));
  timelines->addWidget(predicted_, 1);
  timelines->addWidget(measured_, 1);
  split->addWidget(compare_panel_);
  split->setStretchFactor(0, 1);
  split->setStretchFactor(1, 1);
  split->setSizes({300, 360});
  layout->addWidget(split, 1);

  connect(load, &QPushButton::clicked, this, [this] {
    const QString path = QFileDialog::getOpenFileName(this, QStringLiteral("Load measured trace"), {},
                                                      QStringLiteral("Traces (*.json);;All files (*)"));
    if (!path.isEmpty()) load_measured(path);
  });
  connect(run_, &QPushButton::clicked, this, &ValidationView::run_validate);
  connect(cancel_, &QPushButton::clicked, this, &ValidationView::cancel_validate);
  connect(process_, &ValidateProcess::progress, this, [this](double fraction, const QString& line) {
    if (fraction < 0) {
      progress_->setRange(0, 0);
    } else {
      progress_->setRange(0, 100);
      progress_->setValue(static_cast<int>(fraction * 100));
    }
    if (!line.isEmpty()) message_->setText(line);
  });
  connect(process_, &ValidateProcess::output_ready, this, [this](const nlohmann::json& output) {
    run_->setEnabled(true);
    cancel_->setEnabled(false);
    progress_->setRange(0, 100);
    progress_->setValue(100);
    const QString error = apply_validate_output(dashboard_.validation(), output);
    if (!error.isEmpty()) {
      message_->setStyleSheet(QStringLiteral("color:#c01010;"));
      message_->setText(error);
    }
  });
  connect(process_, &ValidateProcess::failed, this, [this](const QString& error) {
    run_->setEnabled(true);
    cancel_->setEnabled(false);
    progress_->setRange(0, 100);
    progress_->setValue(0);
    message_->setStyleSheet(QStringLiteral("color:#c01010;"));
    message_->setText(error);
  });
  connect(&dashboard_.validation(), &ValidationModel::changed, this, &ValidationView::refresh);
  refresh();
}

QWidget* ValidationView::export_target() {
  return compare_panel_;
}

QString ValidationView::load_measured(const QString& path) {
  return dashboard_.validation().load_measured_file(path);
}

void ValidationView::run_validate() {
  if (!dashboard_.document().valid()) {
    message_->setStyleSheet(QStringLiteral("color:#c01010;"));
    message_->setText(QStringLiteral("The scenario is invalid: ") + dashboard_.document().error().message);
    return;
  }
  const QString error = process_->start(dashboard_.document().json());
  if (!error.isEmpty()) {
    message_->setStyleSheet(QStringLiteral("color:#c01010;"));
    message_->setText(error);
    return;
  }
  message_->setStyleSheet(QString());
  run_->setEnabled(false);
  cancel_->setEnabled(true);
}

void ValidationView::cancel_validate() {
  process_->cancel();
}

void ValidationView::refresh() {
  const ValidationModel& v = dashboard_.validation();
  predicted_->model_changed();
  measured_->model_changed();
  // One shared axis: fit the longer of the two.
  viewport_->fit(static_cast<double>(std::max(v.predicted_timeline().end_ns(), v.measured_timeline().end_ns())));
  const QString verdict = v.verdict();
  verdict_->setText(verdict);
  verdict_->setStyleSheet(verdict.startsWith(QStringLiteral("PASS")) ? QStringLiteral("color:#1a7f37;")
                                                                     : QStringLiteral("color:#c01010;"));
  if (!v.error().isEmpty()) {
    message_->setStyleSheet(QStringLiteral("color:#c01010;"));
    message_->setText(v.error());
  } else if (v.comparison()) {
    const auto& c = *v.comparison();
    message_->setStyleSheet(QString());
    QString steps;
    for (auto s : c.steps_used) steps += (steps.isEmpty() ? QString() : QStringLiteral(", ")) + QString::number(s);
    message_->setText(QStringLiteral("%1 on %2 · predicted by %3 · measured by %4%5 · steps used: %6 (%7 warm-up "
                                     "skipped) · %8 ranks")
                          .arg(QString::fromStdString(c.scenario), QString::fromStdString(c.hardware),
                               QString::fromStdString(c.predicted_backend), QString::fromStdString(c.measured_backend),
                               v.origin().isEmpty() ? QString() : QStringLiteral(" (%1)").arg(v.origin()), steps)
                          .arg(c.steps_skipped)
                          .arg(c.rank_map.size()));
  }
}

}  // namespace clustersim::gui
