// The Validation view's model: a prediction against a measurement. It holds the predicted trace (the
// current prediction), the measured trace (a file written by the executor, read with
// plan::read_trace_file, or the output of a validate run) and the reports::compare result, and
// exposes two tables: time per op class (predicted, measured, error %, within tolerance or not) and
// the comparison's checks (pass/fail). Errors from the library (traces of different scenarios or
// programs, malformed files) are kept as the message to show; nothing throws out of here.
#pragma once

#include <memory>
#include <optional>
#include <vector>

#include <QAbstractTableModel>
#include <QObject>
#include <QString>

#include "clustersim/reports/compare.hpp"
#include "core/prediction.hpp"
#include "core/timeline_model.hpp"

namespace clustersim::gui {

// Rows of a comparison as a table: kind `classes` (step time, each op class, idle, each comm
// group) or `checks`.
class ComparisonTableModel : public QAbstractTableModel {
  Q_OBJECT
 public:
  enum class Kind { classes, checks };
  struct Row {
    QString name;
    QString predicted, measured;  // formatted
    double error = 0.0;
    double tolerance = 0.0;
    bool passed = true;
    QString op_class;  // for colouring (classes kind)
  };

  explicit ComparisonTableModel(Kind kind, QObject* parent = nullptr);
  void set_comparison(const reports::Comparison* comparison);
  const std::vector<Row>& rows() const { return rows_; }

  int rowCount(const QModelIndex& parent = {}) const override;
  int columnCount(const QModelIndex& parent = {}) const override;
  QVariant data(const QModelIndex& index, int role) const override;
  QVariant headerData(int section, Qt::Orientation orientation, int role) const override;

 private:
  Kind kind_;
  std::vector<Row> rows_;
};

class ValidationModel : public QObject {
  Q_OBJECT
 public:
  explicit ValidationModel(QObject* parent = nullptr);

  // The prediction to compare (the dashboard's current one); re-compares when a measurement is set.
  void set_predicted(PredictionPtr prediction);
  void set_predicted_trace(std::shared_ptr<const plan::Trace> trace);
  // Sets the measurement and compares; returns the error message (empty on success).
  QString set_measured(std::shared_ptr<const plan::Trace> trace, const QString& origin = {});
  // Reads a measured trace file (plan::read_trace_file) and compares.
  QString load_measured_file(const QString& path);
  // A comparison computed elsewhere (the JSON `clustersim validate --format json` prints).
  QString set_comparison_json(const nlohmann::json& j);
  void clear_measured();

  const std::shared_ptr<const plan::Trace>& predicted_trace() const { return predicted_; }
  const std::shared_ptr<const plan::Trace>& measured_trace() const { return measured_; }
  const std::optional<reports::Comparison>& comparison() const { return comparison_; }
  // The measured step shown in the aligned timelines: the first step the comparison averaged.
  std::optional<std::int32_t> measured_step() const;
  const QString& error() const { return error_; }
  const QString& origin() const { return origin_; }
  // "PASS - 3 of 3 checks within tolerance" / "FAIL - ..." / "" without a comparison.
  QString verdict() const;

  ComparisonTableModel* classes_model() { return &classes_; }
  ComparisonTableModel* checks_model() { return &checks_; }
  // The two timelines shown one above the other, each starting at 0 at the start of its step: the
  // predicted step and the first measured step the comparison used.
  const TimelineModel& predicted_timeline() const { return predicted_timeline_; }
  const TimelineModel& measured_timeline() const { return measured_timeline_; }

  reports::CompareOptions options;

 signals:
  void changed();

 private:
  void recompare();
  void publish();

  std::shared_ptr<const plan::Trace> predicted_, measured_;
  std::optional<reports::Comparison> comparison_;
  bool external_comparison_ = false;
  QString error_;
  QString origin_;
  ComparisonTableModel classes_{ComparisonTableModel::Kind::classes};
  ComparisonTableModel checks_{ComparisonTableModel::Kind::checks};
  TimelineModel predicted_timeline_, measured_timeline_;
};

}  // namespace clustersim::gui
