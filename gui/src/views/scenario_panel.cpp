// ScenarioPanel: knob controls <-> ScenarioDocument, inline errors, file and preset actions.
#include "views/scenario_panel.hpp"

#include <algorithm>
#include <climits>
#include <cmath>

#include <QCheckBox>
#include <QComboBox>
#include <QDoubleSpinBox>
#include <QFileDialog>
#include <QFileInfo>
#include <QFormLayout>
#include <QGroupBox>
#include <QHBoxLayout>
#include <QLabel>
#include <QPlainTextEdit>
#include <QPushButton>
#include <QSpinBox>
#include <QVBoxLayout>

#include "core/dashboard.hpp"

namespace clustersim::gui {

namespace {

const char* kErrorStyle = "border: 2px solid #d00000; background: #fff0f0;";

int to_int(double v) {
  return static_cast<int>(std::clamp(v, static_cast<double>(INT_MIN), static_cast<double>(INT_MAX)));
}

}  // namespace

ScenarioPanel::ScenarioPanel(Dashboard& dashboard, QWidget* parent) : QWidget(parent), dashboard_(dashboard) {
  auto* layout = new QVBoxLayout(this);
  auto* files = new QHBoxLayout;
  auto* open = new QPushButton(QStringLiteral("Open…"));
  auto* save_btn = new QPushButton(QStringLiteral("Save"));
  auto* save_as = new QPushButton(QStringLiteral("Save as…"));
  files->addWidget(open);
  files->addWidget(save_btn);
  files->addWidget(save_as);
  layout->addLayout(files);
  connect(open, &QPushButton::clicked, this, &ScenarioPanel::open_dialog);
  connect(save_btn, &QPushButton::clicked, this, &ScenarioPanel::save);
  connect(save_as, &QPushButton::clicked, this, &ScenarioPanel::save_as_dialog);

  presets_ = new QComboBox;
  presets_->addItem(QStringLiteral("Preset scenarios…"), QString());
  presets_->addItem(QStringLiteral("built-in default"), QStringLiteral(":default"));
  for (const QString& file : Dashboard::preset_scenario_files())
    presets_->addItem(QFileInfo(file).completeBaseName(), file);
  layout->addWidget(presets_);
  connect(presets_, &QComboBox::activated, this, [this](int index) {
    const QString file = presets_->itemData(index).toString();
    presets_->setCurrentIndex(0);
    if (file.isEmpty()) return;
    if (file == QStringLiteral(":default")) {
      QString origin;
      const nlohmann::json j = Dashboard::default_scenario_json(&origin);
      dashboard_.document().set_json(j, origin);
      return;
    }
    open_file(file);
  });

  title_ = new QLabel;
  title_->setWordWrap(true);
  QFont bold = title_->font();
  bold.setBold(true);
  title_->setFont(bold);
  layout->addWidget(title_);
  error_ = new QLabel;
  error_->setWordWrap(true);
  error_->setTextInteractionFlags(Qt::TextSelectableByMouse);
  error_->setStyleSheet(QStringLiteral("color:#b00000; background:#fff0f0; border:1px solid #e0a0a0; padding:4px;"));
  error_->hide();
  layout->addWidget(error_);

  build_form();

  auto* json_box = new QGroupBox(QStringLiteral("Scenario JSON"));
  json_box->setCheckable(true);
  json_box->setChecked(false);
  auto* json_layout = new QVBoxLayout(json_box);
  json_ = new QPlainTextEdit;
  json_->setMinimumHeight(160);
  QFont mono(QStringLiteral("monospace"));
  mono.setStyleHint(QFont::Monospace);
  json_->setFont(mono);
  json_->setVisible(false);
  apply_json_ = new QPushButton(QStringLiteral("Apply JSON"));
  apply_json_->setVisible(false);
  json_layout->addWidget(json_);
  json_layout->addWidget(apply_json_);
  connect(json_box, &QGroupBox::toggled, this, [this](bool on) {
    json_->setVisible(on);
    apply_json_->setVisible(on);
  });
  connect(apply_json_, &QPushButton::clicked, this, [this] {
    try {
      const nlohmann::json j = nlohmann::json::parse(json_->toPlainText().toStdString(), nullptr, true, true);
      const QString path = dashboard_.document().path();
      dashboard_.document().set_json(j, path);
    } catch (const nlohmann::json::exception& e) {
      set_highlight({}, QStringLiteral("JSON: ") + QString::fromStdString(e.what()));
    }
  });
  layout->addWidget(json_box);
  layout->addStretch(1);

  connect(&dashboard_.document(), &ScenarioDocument::changed, this, &ScenarioPanel::refresh);
  connect(&dashboard_, &Dashboard::prediction_error_changed, this, &ScenarioPanel::refresh);
  refresh();
}

void ScenarioPanel::build_form() {
  auto* outer = qobject_cast<QVBoxLayout*>(layout());
  std::map<std::string, QFormLayout*> sections;
  for (const Knob& knob : dashboard_.knobs()) {
    QFormLayout*& form = sections[knob.section];
    if (!form) {
      auto* box = new QGroupBox(QString::fromStdString(knob.section));
      form = new QFormLayout(box);
      form->setFieldGrowthPolicy(QFormLayout::AllNonFixedFieldsGrow);
      outer->addWidget(box);
    }
    QWidget* control = nullptr;
    const Knob* k = &knob;
    switch (knob.kind) {
      case KnobKind::integer: {
        auto* spin = new QSpinBox;
        spin->setRange(to_int(knob.min), to_int(knob.max));
        if (knob.has_auto) spin->setSpecialValueText(QStringLiteral("auto"));
        spin->setKeyboardTracking(true);
        connect(spin, &QSpinBox::valueChanged, this, [this, k](int v) {
          knob_edited(*k, k->has_auto && v == static_cast<int>(k->min) ? nlohmann::json(nullptr) : nlohmann::json(v));
        });
        control = spin;
        break;
      }
      case KnobKind::number: {
        auto* spin = new QDoubleSpinBox;
        spin->setRange(knob.min, knob.max);
        spin->setDecimals(2);
        connect(spin, &QDoubleSpinBox::valueChanged, this, [this, k](double v) { knob_edited(*k, v); });
        control = spin;
        break;
      }
      case KnobKind::boolean: {
        auto* check = new QCheckBox;
        connect(check, &QCheckBox::toggled, this, [this, k](bool v) { knob_edited(*k, v); });
        control = check;
        break;
      }
      case KnobKind::choice: {
        auto* combo = new QComboBox;
        for (const auto& c : knob.choices) combo->addItem(QString::fromStdString(c));
        connect(combo, &QComboBox::activated, this, [this, k, combo](int index) {
          // A custom entry (not a catalog preset) cannot be chosen by name.
          if (combo->itemData(index).toString() == QStringLiteral("custom")) return;
          knob_edited(*k, combo->currentText().toStdString());
        });
        control = combo;
        break;
      }
    }
    control->setObjectName(QString::fromStdString("knob_" + knob.id));
    control->setToolTip(
        QString::fromStdString(knob.tooltip.empty() ? knob.json_path : knob.tooltip + " (" + knob.json_path + ")"));
    form->addRow(QString::fromStdString(knob.label), control);
    controls_[knob.id] = control;
  }
}

QWidget* ScenarioPanel::control(const std::string& knob_id) const {
  const auto it = controls_.find(knob_id);
  return it == controls_.end() ? nullptr : it->second;
}

void ScenarioPanel::knob_edited(const Knob& knob, const nlohmann::json& value) {
  if (refreshing_) return;
  dashboard_.document().set_knob(knob, value);
}

void ScenarioPanel::refresh() {
  refreshing_ = true;
  const ScenarioDocument& doc = dashboard_.document();
  const QString name = QString::fromStdString(doc.json().value("name", std::string("(unnamed)")));
  title_->setText(name + (doc.path().isEmpty() ? QString() : QStringLiteral("\n") + doc.path()) +
                  (doc.modified() ? QStringLiteral(" (modified)") : QString()));
  for (const Knob& knob : dashboard_.knobs()) {
    QWidget* w = control(knob.id);
    const nlohmann::json v = doc.knob_value(knob);
    if (auto* spin = qobject_cast<QSpinBox*>(w)) {
      const int value = v.is_number() ? to_int(v.get<double>()) : (knob.has_auto ? to_int(knob.min) : spin->value());
      if (spin->value() != value) spin->setValue(value);
    } else if (auto* dspin = qobject_cast<QDoubleSpinBox*>(w)) {
      if (v.is_number() && std::abs(dspin->value() - v.get<double>()) > 1e-9) dspin->setValue(v.get<double>());
    } else if (auto* check = qobject_cast<QCheckBox*>(w)) {
      const bool value = v.is_boolean() && v.get<bool>();
      if (check->isChecked() != value) check->setChecked(value);
    } else if (auto* combo = qobject_cast<QComboBox*>(w)) {
      const QString text = v.is_string() ? QString::fromStdString(v.get<std::string>()) : QString();
      if (!text.isEmpty() && combo->findText(text) < 0) combo->addItem(text, QStringLiteral("custom"));
      if (!text.isEmpty()) combo->setCurrentText(text);
    }
  }
  if (json_) {
    const QString text = QString::fromStdString(doc.json().dump(2));
    if (json_->toPlainText() != text && !json_->hasFocus()) json_->setPlainText(text);
  }
  refreshing_ = false;

  ScenarioError error = doc.error();
  if (error.valid()) error = dashboard_.prediction_error();
  if (error.valid()) {
    set_highlight({}, {});
  } else {
    const Knob* knob = knob_for_error_path(dashboard_.knobs(), error.json_path.toStdString());
    set_highlight(knob ? knob->id : std::string(), error.message);
  }
}

void ScenarioPanel::set_highlight(const std::string& knob_id, const QString& message) {
  if (!highlighted_.empty())
    if (QWidget* w = control(highlighted_)) w->setStyleSheet(QString());
  highlighted_ = knob_id;
  if (!highlighted_.empty())
    if (QWidget* w = control(highlighted_)) w->setStyleSheet(QString::fromLatin1(kErrorStyle));
  error_->setText(message);
  error_->setVisible(!message.isEmpty());
}

QString ScenarioPanel::open_file(const QString& path) {
  const ScenarioError error = dashboard_.document().load_file(path);
  if (!error.valid()) set_highlight({}, error.message);
  return error.message;
}

QString ScenarioPanel::save_file(const QString& path) {
  const QString error = dashboard_.document().save_file(path);
  if (!error.isEmpty()) set_highlight(highlighted_, error);
  refresh();
  return error;
}

void ScenarioPanel::open_dialog() {
  const QString path = QFileDialog::getOpenFileName(this, QStringLiteral("Open scenario"), {},
                                                    QStringLiteral("Scenarios (*.json);;All files (*)"));
  if (!path.isEmpty()) open_file(path);
}

void ScenarioPanel::save() {
  if (dashboard_.document().path().isEmpty()) {
    save_as_dialog();
  } else {
    save_file(dashboard_.document().path());
  }
}

void ScenarioPanel::save_as_dialog() {
  const QString path = QFileDialog::getSaveFileName(this, QStringLiteral("Save scenario"), dashboard_.document().path(),
                                                    QStringLiteral("Scenarios (*.json)"));
  if (!path.isEmpty()) save_file(path);
}

}  // namespace clustersim::gui
