// ScenarioDocument: JSON edits through models::set_path, validation through models::parse_scenario,
// errors kept verbatim from the library.
#include "core/scenario_document.hpp"

#include <fstream>

#include "clustersim/plan/error.hpp"

namespace clustersim::gui {

ScenarioDocument::ScenarioDocument(QObject* parent) : QObject(parent) {}

void ScenarioDocument::set_json(const nlohmann::json& j, const QString& path) {
  json_ = j;
  modified_ = false;
  if (path != path_) {
    path_ = path;
    emit path_changed(path_);
  }
  revalidate();
}

ScenarioError ScenarioDocument::load_file(const QString& path) {
  try {
    nlohmann::json j = models::load_scenario_json(path.toStdString());
    set_json(j, path);
    return {};
  } catch (const InputError& e) {
    return {QString::fromStdString(e.what()), QString::fromStdString(e.json_path())};
  } catch (const std::exception& e) {
    return {QString::fromStdString(e.what()), {}};
  }
}

QString ScenarioDocument::save_file(const QString& path) {
  std::ofstream out(path.toStdString(), std::ios::binary | std::ios::trunc);
  if (!out) return QStringLiteral("cannot write %1").arg(path);
  out << json_.dump(2) << "\n";
  out.close();
  if (!out) return QStringLiteral("cannot write %1").arg(path);
  modified_ = false;
  if (path != path_) {
    path_ = path;
    emit path_changed(path_);
  }
  return {};
}

void ScenarioDocument::set_value(const std::string& dot_path, const nlohmann::json& value) {
  set_values({{dot_path, value}});
}

void ScenarioDocument::set_knob(const Knob& knob, const nlohmann::json& value) {
  try {
    apply_knob(knob, json_, value);
  } catch (const InputError& e) {
    error_ = {QString::fromStdString(e.what()), QString::fromStdString(e.json_path())};
    ++revision_;
    emit changed();
    return;
  }
  modified_ = true;
  revalidate();
}

void ScenarioDocument::set_values(const std::vector<std::pair<std::string, nlohmann::json>>& assignments) {
  try {
    for (const auto& [path, value] : assignments) models::set_path(json_, path, value);
  } catch (const InputError& e) {
    // A malformed path (through a non-object): the JSON may be partly edited; report it like a
    // validation error so the panel shows it.
    error_ = {QString::fromStdString(e.what()), QString::fromStdString(e.json_path())};
    ++revision_;
    modified_ = true;
    emit changed();
    return;
  }
  modified_ = true;
  revalidate();
}

nlohmann::json ScenarioDocument::knob_value(const Knob& knob) const {
  return gui::knob_value(knob, json_, scenario_.get());
}

void ScenarioDocument::revalidate() {
  ++revision_;
  try {
    scenario_ = std::make_shared<const models::Scenario>(models::parse_scenario(json_));
    error_ = {};
  } catch (const InputError& e) {
    error_ = {QString::fromStdString(e.what()), QString::fromStdString(e.json_path())};
  } catch (const std::exception& e) {
    error_ = {QString::fromStdString(e.what()), {}};
  }
  emit changed();
}

}  // namespace clustersim::gui
