// ValidationModel and ComparisonTableModel: reports::compare in table form.
#include "core/validation_model.hpp"

#include <cmath>

#include <QBrush>
#include <QColor>

#include "clustersim/plan/json.hpp"
#include "clustersim/reports/analysis.hpp"
#include "clustersim/reports/format.hpp"
#include "core/comparison_json.hpp"
#include "core/op_colors.hpp"

namespace clustersim::gui {

namespace {

QString q(const std::string& s) {
  return QString::fromStdString(s);
}

bool within(double error, double tolerance) {
  return std::isfinite(error) && std::abs(error) <= tolerance + 1e-12;
}

QString value_text(double v, const std::string& unit) {
  if (unit == "bytes") return q(reports::format_bytes(v));
  return q(reports::format_duration_s(v));
}

}  // namespace

// --- ComparisonTableModel ---------------------------------------------------------------------

ComparisonTableModel::ComparisonTableModel(Kind kind, QObject* parent) : QAbstractTableModel(parent), kind_(kind) {}

void ComparisonTableModel::set_comparison(const reports::Comparison* c) {
  beginResetModel();
  rows_.clear();
  if (c) {
    if (kind_ == Kind::classes) {
      const auto add = [&](const reports::MetricComparison& m, double tolerance, const std::string& cls) {
        rows_.push_back({q(m.name), value_text(m.predicted, "s"), value_text(m.measured, "s"), m.error, tolerance,
                         within(m.error, tolerance), q(cls)});
      };
      add(c->step_time, c->options.step_time_tolerance, "");
      rows_.back().name = QStringLiteral("step time");
      for (const auto& m : c->classes)
        add(m, reports::is_comm_class(m.name) ? c->options.comm_tolerance : c->options.step_time_tolerance, m.name);
      for (const auto& m : c->comm_groups) {
        add(m, c->options.comm_tolerance, "comm:" + m.name + ":");
        rows_.back().name = QStringLiteral("comm %1 transfer").arg(q(m.name));
      }
    } else {
      for (const auto& k : c->checks)
        rows_.push_back({q(k.name),
                         value_text(k.predicted, k.unit),
                         value_text(k.measured, k.unit),
                         k.error,
                         k.tolerance,
                         k.passed,
                         {}});
    }
  }
  endResetModel();
}

int ComparisonTableModel::rowCount(const QModelIndex& parent) const {
  return parent.isValid() ? 0 : static_cast<int>(rows_.size());
}

int ComparisonTableModel::columnCount(const QModelIndex& parent) const {
  return parent.isValid() ? 0 : 6;
}

QVariant ComparisonTableModel::data(const QModelIndex& index, int role) const {
  if (!index.isValid() || index.row() >= rowCount()) return {};
  const Row& r = rows_[static_cast<std::size_t>(index.row())];
  if (role == Qt::DisplayRole) {
    switch (index.column()) {
      case 0:
        return r.name;
      case 1:
        return r.predicted;
      case 2:
        return r.measured;
      case 3:
        return q(reports::format_error_percent(r.error));
      case 4:
        return QStringLiteral("±") + q(reports::format_percent(r.tolerance, 0));
      case 5:
        return r.passed ? QStringLiteral("pass") : QStringLiteral("FAIL");
      default:
        return {};
    }
  }
  if (role == Qt::UserRole && index.column() == 3) return r.error;
  if (role == Qt::ForegroundRole && index.column() == 5)
    return QBrush(r.passed ? QColor(0x1a, 0x7f, 0x37) : QColor(0xc0, 0x10, 0x10));
  if (role == Qt::DecorationRole && index.column() == 0 && !r.op_class.isEmpty()) return op_class_color(r.op_class);
  if (role == Qt::TextAlignmentRole && index.column() >= 1 && index.column() <= 4)
    return int(Qt::AlignRight | Qt::AlignVCenter);
  return {};
}

QVariant ComparisonTableModel::headerData(int section, Qt::Orientation orientation, int role) const {
  if (orientation != Qt::Horizontal || role != Qt::DisplayRole) return {};
  static const char* class_names[] = {"Op class", "Predicted / step", "Measured / step",
                                      "Error",    "Tolerance",        "Within"};
  static const char* check_names[] = {"Check", "Predicted", "Measured", "Error", "Tolerance", "Result"};
  if (section < 0 || section >= 6) return {};
  return QString::fromLatin1(kind_ == Kind::classes ? class_names[section] : check_names[section]);
}

// --- ValidationModel -------------------------------------------------------------------------

ValidationModel::ValidationModel(QObject* parent) : QObject(parent) {}

void ValidationModel::set_predicted(PredictionPtr prediction) {
  if (!prediction) {
    set_predicted_trace(nullptr);
    return;
  }
  // Aliasing constructor: the trace lives as long as the prediction.
  set_predicted_trace(std::shared_ptr<const plan::Trace>(prediction, &prediction->trace));
}

void ValidationModel::set_predicted_trace(std::shared_ptr<const plan::Trace> trace) {
  predicted_ = std::move(trace);
  if (measured_) {
    recompare();
  } else {
    publish();
  }
}

QString ValidationModel::set_measured(std::shared_ptr<const plan::Trace> trace, const QString& origin) {
  measured_ = std::move(trace);
  origin_ = origin;
  external_comparison_ = false;
  recompare();
  return error_;
}

QString ValidationModel::load_measured_file(const QString& path) {
  try {
    auto trace = std::make_shared<const plan::Trace>(plan::read_trace_file(path.toStdString()));
    return set_measured(std::move(trace), path);
  } catch (const std::exception& e) {
    error_ = q(e.what());
    publish();
    return error_;
  }
}

QString ValidationModel::set_comparison_json(const nlohmann::json& j) {
  try {
    comparison_ = comparison_from_json(j);
    external_comparison_ = true;
    error_.clear();
  } catch (const std::exception& e) {
    error_ = q(e.what());
  }
  publish();
  return error_;
}

void ValidationModel::clear_measured() {
  measured_.reset();
  comparison_.reset();
  external_comparison_ = false;
  error_.clear();
  origin_.clear();
  publish();
}

std::optional<std::int32_t> ValidationModel::measured_step() const {
  if (comparison_ && !comparison_->steps_used.empty()) return comparison_->steps_used.front();
  if (measured_) {
    const auto steps = reports::trace_steps(*measured_);
    if (!steps.empty()) return steps.back();
  }
  return std::nullopt;
}

QString ValidationModel::verdict() const {
  if (!comparison_) return {};
  int passed = 0;
  for (const auto& k : comparison_->checks) passed += k.passed ? 1 : 0;
  return QStringLiteral("%1 - %2 of %3 checks within tolerance")
      .arg(comparison_->passed ? QStringLiteral("PASS") : QStringLiteral("FAIL"))
      .arg(passed)
      .arg(comparison_->checks.size());
}

void ValidationModel::recompare() {
  error_.clear();
  if (!external_comparison_) comparison_.reset();
  if (predicted_ && measured_) {
    try {
      comparison_ = reports::compare(*predicted_, *measured_, options);
      external_comparison_ = false;
    } catch (const std::exception& e) {
      error_ = q(e.what());
      comparison_.reset();
    }
  } else if (measured_ && !predicted_) {
    error_ = QStringLiteral("no valid prediction to compare with yet");
  }
  publish();
}

void ValidationModel::publish() {
  classes_.set_comparison(comparison_ ? &*comparison_ : nullptr);
  checks_.set_comparison(comparison_ ? &*comparison_ : nullptr);
  // The predicted timeline is only needed next to a measurement (saves a pass over the ops per edit).
  if (predicted_ && (measured_ || comparison_)) {
    const auto steps = reports::trace_steps(*predicted_);
    predicted_timeline_.set_trace(predicted_,
                                  steps.empty() ? std::nullopt : std::optional<std::int32_t>(steps.front()));
  } else {
    predicted_timeline_.clear();
  }
  if (measured_) {
    measured_timeline_.set_trace(measured_, measured_step());
  } else {
    measured_timeline_.clear();
  }
  emit changed();
}

}  // namespace clustersim::gui
