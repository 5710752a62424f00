// MainWindow: docks, tabs, menus and the status line.
#include "views/main_window.hpp"

#include <QAction>
#include <QApplication>
#include <QDockWidget>
#include <QFileDialog>
#include <QFileInfo>
#include <QKeySequence>
#include <QLabel>
#include <QMenuBar>
#include <QMessageBox>
#include <QScrollArea>
#include <QStatusBar>
#include <QTabWidget>

#include "clustersim/reports/format.hpp"
#include "core/dashboard.hpp"
#include "core/trace_export.hpp"
#include "views/comm_view.hpp"
#include "views/memory_view.hpp"
#include "views/scenario_panel.hpp"
#include "views/summary_view.hpp"
#include "views/sweep_view.hpp"
#include "views/timeline_view.hpp"
#include "views/validation_view.hpp"

namespace clustersim::gui {

MainWindow::MainWindow(Dashboard& dashboard, QWidget* parent) : QMainWindow(parent), dashboard_(dashboard) {
  panel_ = new ScenarioPanel(dashboard_);
  auto* scroll = new QScrollArea;
  scroll->setWidget(panel_);
  scroll->setWidgetResizable(true);
  scroll->setHorizontalScrollBarPolicy(Qt::ScrollBarAlwaysOff);
  scroll->setMinimumWidth(330);
  auto* dock = new QDockWidget(QStringLiteral("Scenario"));
  dock->setObjectName(QStringLiteral("scenario_dock"));
  dock->setWidget(scroll);
  dock->setFeatures(QDockWidget::DockWidgetMovable | QDockWidget::DockWidgetFloatable);
  addDockWidget(Qt::LeftDockWidgetArea, dock);

  tabs_ = new QTabWidget;
  summary_ = new SummaryView(dashboard_);
  memory_ = new MemoryView(dashboard_);
  timeline_ = new TimelineView(dashboard_);
  comm_ = new CommView(dashboard_);
  sweep_ = new SweepView(dashboard_);
  validation_ = new ValidationView(dashboard_);
  tabs_->addTab(summary_, QStringLiteral("Summary"));
  tabs_->addTab(memory_, QStringLiteral("Memory"));
  tabs_->addTab(timeline_, QStringLiteral("Timeline"));
  tabs_->addTab(comm_, QStringLiteral("Communication"));
  tabs_->addTab(sweep_, QStringLiteral("Sweep"));
  tabs_->addTab(validation_, QStringLiteral("Validation"));
  views_ = {summary_, memory_, timeline_, comm_, sweep_, validation_};
  setCentralWidget(tabs_);

  status_ = new QLabel;
  statusBar()->addWidget(status_, 1);
  build_menus();

  connect(&dashboard_, &Dashboard::result_applied, this, &MainWindow::update_status);
  connect(&dashboard_, &Dashboard::stale_changed, this, &MainWindow::update_status);
  connect(&dashboard_, &Dashboard::busy_changed, this, &MainWindow::update_status);
  connect(&dashboard_, &Dashboard::preview_applied, this, &MainWindow::update_status);
  connect(&dashboard_, &Dashboard::prediction_error_changed, this, &MainWindow::update_status);
  connect(&dashboard_.document(), &ScenarioDocument::changed, this, &MainWindow::update_title);
  resize(1280, 800);
  update_status();
  update_title();
}

void MainWindow::build_menus() {
  QMenu* file = menuBar()->addMenu(QStringLiteral("&File"));
  file->addAction(QStringLiteral("&Open scenario…"), QKeySequence::Open, panel_, &ScenarioPanel::open_dialog);
  file->addAction(QStringLiteral("&Save scenario"), QKeySequence::Save, panel_, &ScenarioPanel::save);
  file->addAction(QStringLiteral("Save scenario &as…"), QKeySequence::SaveAs, panel_, &ScenarioPanel::save_as_dialog);
  file->addSeparator();
  file->addAction(QStringLiteral("Export view as &PNG…"), this, [this] {
    const QString path = QFileDialog::getSaveFileName(
        this, QStringLiteral("Export view as PNG"),
        views_[static_cast<std::size_t>(tabs_->currentIndex())]->export_name() + ".png", QStringLiteral("PNG (*.png)"));
    if (!path.isEmpty())
      if (const QString e = export_current_view(path); !e.isEmpty())
        QMessageBox::warning(this, QStringLiteral("Export"), e);
  });
  file->addAction(QStringLiteral("Export view as S&VG…"), this, [this] {
    const QString path = QFileDialog::getSaveFileName(
        this, QStringLiteral("Export view as SVG"),
        views_[static_cast<std::size_t>(tabs_->currentIndex())]->export_name() + ".svg", QStringLiteral("SVG (*.svg)"));
    if (!path.isEmpty())
      if (const QString e = export_current_view(path); !e.isEmpty())
        QMessageBox::warning(this, QStringLiteral("Export"), e);
  });
  file->addAction(QStringLiteral("Export prediction as &Chrome trace…"), this, [this] {
    const QString path =
        QFileDialog::getSaveFileName(this, QStringLiteral("Export Chrome trace"),
                                     QStringLiteral("prediction.chrome.json"), QStringLiteral("Chrome trace (*.json)"));
    if (!path.isEmpty())
      if (const QString e = export_chrome_trace(path); !e.isEmpty())
        QMessageBox::warning(this, QStringLiteral("Export"), e);
  });
  file->addAction(QStringLiteral("Export prediction as &trace JSON…"), this, [this] {
    if (!dashboard_.current()) return;
    const QString path =
        QFileDialog::getSaveFileName(this, QStringLiteral("Export trace"), QStringLiteral("prediction.trace.json"),
                                     QStringLiteral("Trace (*.json)"));
    if (!path.isEmpty())
      if (const QString e = export_trace_json(dashboard_.current()->trace, path); !e.isEmpty())
        QMessageBox::warning(this, QStringLiteral("Export"), e);
  });
  file->addSeparator();
  file->addAction(QStringLiteral("&Quit"), QKeySequence::Quit, qApp, &QApplication::quit);

  QMenu* view = menuBar()->addMenu(QStringLiteral("&View"));
  for (int i = 0; i < tabs_->count(); ++i) {
    QAction* a = view->addAction(tabs_->tabText(i), this, [this, i] { tabs_->setCurrentIndex(i); });
    a->setShortcut(QKeySequence(Qt::ALT | static_cast<Qt::Key>(Qt::Key_1 + i)));
  }
  QMenu* validate = menuBar()->addMenu(QStringLiteral("Va&lidation"));
  validate->addAction(QStringLiteral("Load measured trace…"), this, [this] {
    tabs_->setCurrentWidget(validation_);
    const QString path = QFileDialog::getOpenFileName(this, QStringLiteral("Load measured trace"), {},
                                                      QStringLiteral("Traces (*.json);;All files (*)"));
    if (!path.isEmpty()) validation_->load_measured(path);
  });
  validate->addAction(QStringLiteral("Run validate (cpu)"), this, [this] {
    tabs_->setCurrentWidget(validation_);
    validation_->run_validate();
  });
}

QString MainWindow::export_current_view(const QString& path) {
  const int i = tabs_->currentIndex();
  if (i < 0 || i >= static_cast<int>(views_.size())) return QStringLiteral("no view");
  return export_widget_image(views_[static_cast<std::size_t>(i)]->export_target(), path);
}

QString MainWindow::export_chrome_trace(const QString& path) {
  if (!dashboard_.current()) return QStringLiteral("no prediction to export yet");
  return gui::export_chrome_trace(dashboard_.current()->trace, path);
}

void MainWindow::update_status() {
  const auto& r = dashboard_.current();
  QString text;
  if (!dashboard_.document().valid()) {
    text = QStringLiteral("Scenario invalid - showing the last valid prediction (stale)");
  } else if (!dashboard_.prediction_error().valid()) {
    text = QStringLiteral("Prediction failed: ") + dashboard_.prediction_error().message;
  } else if (dashboard_.predictor().busy()) {
    text = dashboard_.preview() ? QStringLiteral("Simulating… (the summary shows the estimate meanwhile)")
                                : QStringLiteral("Computing…");
  } else if (r && dashboard_.stale()) {
    text = QStringLiteral("Stale");
  } else if (r) {
    text = QStringLiteral("Up to date · %1 GPUs · %2 ops in the plan · built in %3, simulated in %4")
               .arg(r->world_size)
               .arg(r->plan_ops)
               .arg(QString::fromStdString(reports::format_duration_s(r->build_ms * 1e-3)),
                    QString::fromStdString(reports::format_duration_s(r->simulate_ms * 1e-3)));
  }
  status_->setText(text);
}

void MainWindow::update_title() {
  const auto& doc = dashboard_.document();
  const QString name = QString::fromStdString(doc.json().value("name", std::string("scenario")));
  setWindowTitle(name + (doc.modified() ? QStringLiteral(" *") : QString()) + QStringLiteral(" - clustersim"));
}

}  // namespace clustersim::gui
