// The dashboard's controller, free of widgets: it owns the scenario document, the prediction
// service and every view model, and wires them: a valid edit asks for a prediction (debounced,
// superseding), an invalid one keeps the last prediction visible and marks it stale; a finished
// prediction is applied to all view models in one step (`apply`), so the views never show parts of
// two different results. Each valid edit also gets, at once and on this thread, a preview of the
// headline figures (preview.hpp) that the Summary shows as estimates until the simulation lands. The window only
// connects widgets to this object.
#pragma once

#include <vector>

#include <QObject>
#include <QString>
#include <QStringList>

#include "core/comm_model.hpp"
#include "core/knobs.hpp"
#include "core/memory_model.hpp"
#include "core/prediction_service.hpp"
#include "core/scenario_document.hpp"
#include "core/summary_model.hpp"
#include "core/sweep_model.hpp"
#include "core/sweep_runner.hpp"
#include "core/timeline_model.hpp"
#include "core/validation_model.hpp"

namespace clustersim::gui {

class Dashboard : public QObject {
  Q_OBJECT
 public:
  explicit Dashboard(QObject* parent = nullptr);

  ScenarioDocument& document() { return document_; }
  PredictionService& predictor() { return predictor_; }
  SummaryModel& summary() { return summary_; }
  MemoryModel& memory() { return memory_; }
  CommModel& comm() { return comm_; }
  const TimelineModel& timeline() const { return timeline_; }
  ValidationModel& validation() { return validation_; }
  SweepModel& sweep() { return sweep_; }
  SweepRunner& sweep_runner() { return sweep_runner_; }
  const std::vector<Knob>& knobs() const { return knobs_; }

  // The prediction on display (possibly stale); null before the first.
  const PredictionPtr& current() const { return current_; }
  // The instant estimate of the document's configuration shown while its prediction is simulated
  // (preview.hpp); null when none is on display (the prediction is current, or no estimate exists).
  const PreviewPtr& preview() const { return summary_.preview(); }
  // True when the prediction on display does not describe the document (invalid or pending edit).
  bool stale() const { return stale_; }
  // An error of the prediction chain itself (the scenario validated but build/simulate refused it,
  // e.g. an unavailable network tier); empty otherwise.
  const ScenarioError& prediction_error() const { return prediction_error_; }

  // Installs a prediction in every view model at once and emits result_applied.
  void apply(PredictionPtr result);
  // Loads the configuration of a sweep point (its parameter assignments) into the document.
  void apply_sweep_point(int row);

  // The scenario opened when none is given: scenarios/default.json when present, else the embedded
  // default. `origin` receives the file path (empty for the embedded one).
  static nlohmann::json default_scenario_json(QString* origin = nullptr);
  // Scenario files offered as presets (scenarios/*.json when the directory exists).
  static QStringList preset_scenario_files();

 signals:
  void result_applied(clustersim::gui::PredictionPtr result);
  // The preview on display changed (emitted synchronously from the edit, before the simulation
  // starts): a valid edit's new estimate, or none after an invalid edit or a failed prediction.
  void preview_applied();
  void stale_changed(bool stale);
  void prediction_error_changed();
  void busy_changed(bool busy);

 private:
  void on_document_changed();
  void set_stale(bool stale);

  std::vector<Knob> knobs_;
  ScenarioDocument document_;
  PredictionService predictor_;
  SummaryModel summary_;
  MemoryModel memory_;
  CommModel comm_;
  TimelineModel timeline_;
  ValidationModel validation_;
  SweepModel sweep_;
  SweepRunner sweep_runner_;
  PredictionPtr current_;
  bool stale_ = true;
  ScenarioError prediction_error_;
};

}  // namespace clustersim::gui
