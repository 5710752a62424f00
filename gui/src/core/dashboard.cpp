// Dashboard: document -> prediction service -> view models.
#include "core/dashboard.hpp"

#include <QDir>
#include <QDirIterator>
#include <QFile>
#include <QFileInfo>

namespace clustersim::gui {

Dashboard::Dashboard(QObject* parent) : QObject(parent), knobs_(scenario_knobs()) {
  connect(&document_, &ScenarioDocument::changed, this, &Dashboard::on_document_changed);
  connect(&predictor_, &PredictionService::result_ready, this, &Dashboard::apply);
  connect(&predictor_, &PredictionService::failed, this,
          [this](quint64 revision, const QString& message, const QString& json_path) {
            if (revision != document_.revision()) return;
            prediction_error_ = {message, json_path};
            if (summary_.preview()) {  // no simulation is coming to confirm the estimate
              summary_.set_preview(nullptr);
              emit preview_applied();
            }
            emit prediction_error_changed();
          });
  connect(&predictor_, &PredictionService::busy_changed, this, &Dashboard::busy_changed);
}

void Dashboard::on_document_changed() {
  const bool had_error = !prediction_error_.valid();
  prediction_error_ = {};
  if (had_error) emit prediction_error_changed();
  if (document_.valid()) {
    predictor_.request(document_.scenario(), document_.revision());
  } else {
    predictor_.cancel();
  }
  set_stale(true);
  PreviewPtr preview;
  if (document_.valid()) {
    try {
      preview = make_preview(*document_.scenario(), document_.revision(), current_.get());
    } catch (const std::exception&) {
      preview.reset();  // no estimate for this configuration: the simulation alone answers
    }
  }
  const bool had_preview = summary_.preview() != nullptr;
  summary_.set_preview(preview);
  if (preview || had_preview) emit preview_applied();
}

void Dashboard::apply(PredictionPtr result) {
  if (!result) return;
  current_ = result;
  summary_.set_result(result);
  memory_.set_result(result);
  comm_.set_result(result);
  timeline_.set_trace(std::shared_ptr<const plan::Trace>(result, &result->trace));
  validation_.set_predicted(result);
  set_stale(result->revision != document_.revision());
  emit result_applied(result);
}

void Dashboard::set_stale(bool stale) {
  summary_.set_stale(stale);
  if (stale == stale_) return;
  stale_ = stale;
  emit stale_changed(stale_);
}

void Dashboard::apply_sweep_point(int row) {
  if (row < 0 || row >= static_cast<int>(sweep_.points().size())) return;
  const auto& point = sweep_.points()[static_cast<std::size_t>(row)];
  if (!point.assignments.empty()) document_.set_values(point.assignments);
}

nlohmann::json Dashboard::default_scenario_json(QString* origin) {
  const QString file = QStringLiteral(CLUSTERSIM_SCENARIOS_DIR) + QStringLiteral("/default.json");
  if (QFileInfo::exists(file)) {
    try {
      nlohmann::json j = models::load_scenario_json(file.toStdString());
      if (origin) *origin = file;
      return j;
    } catch (const std::exception&) {
      // fall back to the embedded default
    }
  }
  QFile embedded(QStringLiteral(":/clustersim/default_scenario.json"));
  embedded.open(QIODevice::ReadOnly);
  if (origin) origin->clear();
  return nlohmann::json::parse(embedded.readAll().toStdString());
}

QStringList Dashboard::preset_scenario_files() {
  QStringList out;
  const QString root = QStringLiteral(CLUSTERSIM_SCENARIOS_DIR);
  if (!QFileInfo(root).isDir()) return out;
  QDirIterator it(root, {QStringLiteral("*.json")}, QDir::Files, QDirIterator::Subdirectories);
  while (it.hasNext()) {
    const QString file = it.next();
    // Only scenarios (sweeps and hardware profiles live there too): a cluster and a model section.
    try {
      const nlohmann::json j = models::load_scenario_json(file.toStdString());
      if (j.is_object() && j.contains("cluster") && j.contains("model")) out << file;
    } catch (const std::exception&) {
    }
  }
  out.sort();
  return out;
}

}  // namespace clustersim::gui
