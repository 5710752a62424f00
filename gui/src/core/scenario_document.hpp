// The scenario being edited: its JSON (the single source of truth), the file it came from, and the
// result of validating it with models::parse_scenario after every edit. A valid edit yields a new
// parsed Scenario (shared, immutable, handed to the prediction worker); an invalid one keeps the
// last valid Scenario and records the library's InputError: message (what()) and json_path(), so
// the panel shows exactly the CLI's text and highlights the field. Every edit bumps `revision`.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include <QObject>
#include <QString>

#include <nlohmann/json.hpp>

#include "clustersim/models/scenario.hpp"
#include "core/knobs.hpp"

namespace clustersim::gui {

// A validation (or loading) problem as the library reported it.
struct ScenarioError {
  QString message;    // the exception's what(), unchanged
  QString json_path;  // InputError::json_path(); empty for other errors
  bool valid() const { return message.isEmpty(); }
};

class ScenarioDocument : public QObject {
  Q_OBJECT
 public:
  explicit ScenarioDocument(QObject* parent = nullptr);

  // Replaces the JSON (and validates it). `path` is remembered for save(); empty for unsaved.
  void set_json(const nlohmann::json& j, const QString& path = {});
  // Reads a scenario file with models::load_scenario_json (comments allowed). On failure the
  // document is unchanged and the error is returned (message of the library's InputError).
  ScenarioError load_file(const QString& path);
  // Writes the JSON (2-space indentation). Returns an error message, empty on success.
  QString save_file(const QString& path);

  // Sets a dot path (models::set_path; null removes the key) and re-validates.
  void set_value(const std::string& dot_path, const nlohmann::json& value);
  // Sets a knob (keeps preset overrides, see apply_knob) and re-validates.
  void set_knob(const Knob& knob, const nlohmann::json& value);
  // Several assignments at once (a sweep point), validated once.
  void set_values(const std::vector<std::pair<std::string, nlohmann::json>>& assignments);

  const nlohmann::json& json() const { return json_; }
  const QString& path() const { return path_; }
  bool modified() const { return modified_; }
  std::uint64_t revision() const { return revision_; }

  // True when the current JSON parses and validates.
  bool valid() const { return error_.valid(); }
  const ScenarioError& error() const { return error_; }
  // The scenario parsed from the current JSON; null while it is invalid.
  std::shared_ptr<const models::Scenario> scenario() const { return valid() ? scenario_ : nullptr; }
  // The last scenario that validated (kept across invalid edits); null before the first.
  std::shared_ptr<const models::Scenario> last_valid_scenario() const { return scenario_; }

  // The value a knob shows now (see knob_value).
  nlohmann::json knob_value(const Knob& knob) const;

 signals:
  // After every change of the JSON (edit, load), once validation has run.
  void changed();
  void path_changed(const QString& path);

 private:
  void revalidate();

  nlohmann::json json_ = nlohmann::json::object();
  QString path_;
  bool modified_ = false;
  std::uint64_t revision_ = 0;
  ScenarioError error_;
  std::shared_ptr<const models::Scenario> scenario_;
};

}  // namespace clustersim::gui
