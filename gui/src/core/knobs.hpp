// The knobs of the scenario panel: which scenario JSON path each form control edits, what kind of
// value it takes, and its choices (catalog presets for GPUs, links and architectures). Edits are
// made on the JSON with models::set_path, so the form never knows the scenario's rules: it re-parses
// with models::parse_scenario and shows the library's own message. Pure data and functions, no Qt
// widgets; the panel builds one control per knob from this list.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "clustersim/models/catalog.hpp"
#include "clustersim/models/scenario.hpp"

namespace clustersim::gui {

enum class KnobKind {
  integer,  // spin box; `auto_value` (when set) is shown as "auto" and removes the key
  number,   // double spin box
  boolean,  // check box
  choice,   // combo box over `choices`
};

struct Knob {
  std::string id;         // stable identifier, e.g. "tp"
  std::string label;      // form label, e.g. "Tensor parallel (tp)"
  std::string json_path;  // scenario path set by the control, e.g. "parallelism.tp"
  std::string section;    // form group: "Cluster", "Model", "Parallelism", "Training", "Simulation"
  KnobKind kind = KnobKind::integer;
  std::vector<std::string> choices;  // for `choice`
  double min = 0, max = 0;           // for integer and number
  bool has_auto = false;             // integer: the minimum means "auto" (the key is removed)
  std::string tooltip;
};

// The knobs the panel shows, in display order, with choices filled from `catalog`.
std::vector<Knob> scenario_knobs(const models::Catalog& catalog = models::Catalog::builtin());

// The knob with this id; nullptr when there is none.
const Knob* find_knob(const std::vector<Knob>& knobs, const std::string& id);

// The knob an error path belongs to: the knob whose json_path equals `error_path`, else the
// longest knob path that is a prefix of it ("cluster.gpu.memory_gib" -> the GPU knob), else the
// longest error path prefix of a knob path. nullptr when nothing is related.
const Knob* knob_for_error_path(const std::vector<Knob>& knobs, const std::string& error_path);

// The value at a dot path of `j` (object keys and array indices); nullptr when absent.
const nlohmann::json* json_at_path(const nlohmann::json& j, const std::string& dot_path);

// The value a knob shows: the JSON's own value when the scenario sets it (a preset given as an
// object shows its "preset", a custom entry its resolved name), else the value `resolved` (the last valid parse) gives
// it, else null. Integer knobs with `has_auto` return null when the key is absent ("auto").
nlohmann::json knob_value(const Knob& knob, const nlohmann::json& scenario_json, const models::Scenario* resolved);

// Applies a control's new value to the scenario JSON: models::set_path on the knob's path (a
// preset given as {"preset": ..., overrides} keeps its overrides and changes "preset"); a null value
// removes the key (restoring its default, e.g. dp = auto).
void apply_knob(const Knob& knob, nlohmann::json& scenario_json, const nlohmann::json& value);

// A value typed as text for a knob (sweep grids): integers, numbers, true/false, or the text.
nlohmann::json knob_value_from_text(const Knob& knob, const std::string& text);

}  // namespace clustersim::gui
