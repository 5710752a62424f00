// The scenario panel (left dock): open / save the scenario JSON, pick a preset scenario, and turn
// the knobs (one control per Knob: spin boxes, combo boxes of catalog presets, check boxes). Every
// change goes straight to the ScenarioDocument (models::set_path + models::parse_scenario); an
// invalid combination shows the library's message inline and outlines the control named by the
// error's JSON path; the raw JSON can be edited too.
#pragma once

#include <map>
#include <string>

#include <QWidget>

#include <nlohmann/json.hpp>

class QComboBox;
class QLabel;
class QPlainTextEdit;
class QPushButton;

namespace clustersim::gui {

class Dashboard;
struct Knob;

class ScenarioPanel : public QWidget {
  Q_OBJECT
 public:
  explicit ScenarioPanel(Dashboard& dashboard, QWidget* parent = nullptr);

  // The control of a knob (QSpinBox, QDoubleSpinBox, QCheckBox or QComboBox); null when unknown.
  QWidget* control(const std::string& knob_id) const;
  // The knob id whose control is outlined as erroneous; empty when none.
  const std::string& highlighted_knob() const { return highlighted_; }
  QLabel* error_label() const { return error_; }

  // File actions (also used by the main window's menu). Return an error message or empty.
  QString open_file(const QString& path);
  QString save_file(const QString& path);
  void open_dialog();
  void save();
  void save_as_dialog();

 public slots:
  // Re-reads every control's value from the document and shows its error state.
  void refresh();

 private:
  void build_form();
  void knob_edited(const Knob& knob, const nlohmann::json& value);
  void set_highlight(const std::string& knob_id, const QString& message);

  Dashboard& dashboard_;
  std::map<std::string, QWidget*> controls_;
  QLabel* title_ = nullptr;
  QLabel* error_ = nullptr;
  QComboBox* presets_ = nullptr;
  QPlainTextEdit* json_ = nullptr;
  QPushButton* apply_json_ = nullptr;
  std::string highlighted_;
  bool refreshing_ = false;
};

}  // namespace clustersim::gui
