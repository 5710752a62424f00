// The Summary view's model: one row per headline figure of the current prediction (step time,
// throughput, MFU, peak memory against capacity, fits, compute / exposed communication / bubble),
// formatted with reports::format_*; Qt::UserRole gives the raw number. While the scenario is invalid
// the last prediction stays, marked stale (grey text). While a new prediction is being simulated, a
// preview (preview.hpp) newer than the prediction replaces the headline rows (step time,
// throughput, MFU, peak memory, fits), shown as estimates ("≈", italic, `estimated` true); the other
// rows keep the last prediction, stale. `breakdown()` feeds the step-time chart.
#pragma once

#include <vector>

#include <QAbstractTableModel>
#include <QString>

#include "core/prediction.hpp"

namespace clustersim::gui {

// Where a step's time goes on the critical rank, in seconds; the parts add up to step_s.
struct StepBreakdown {
  double step_s = 0.0;
  double compute_s = 0.0;       // busy compute stream
  double exposed_comm_s = 0.0;  // communication with nothing to compute
  double bubble_s = 0.0;        // pipeline idle (bubble_fraction x step)
  double other_s = 0.0;         // the rest (waits, launch gaps)
};
StepBreakdown step_breakdown(const plan::Summary& summary);

class SummaryModel : public QAbstractTableModel {
  Q_OBJECT
 public:
  enum Column { metric_column, value_column, column_count_ };
  struct Row {
    QString key;     // stable id, e.g. "step_time"
    QString metric;  // label
    QString value;   // formatted
    double raw = 0.0;
    QString detail;          // tooltip
    bool estimated = false;  // from the preview, not from a simulation
  };

  explicit SummaryModel(QObject* parent = nullptr);

  void set_result(PredictionPtr result);
  // Shows `preview` (null clears it) until a prediction of its revision or a later one arrives.
  void set_preview(PreviewPtr preview);
  // The preview on display (null when none or when the prediction is at least as new).
  const PreviewPtr& preview() const { return preview_; }
  void set_stale(bool stale);
  bool stale() const { return stale_; }
  const PredictionPtr& result() const { return result_; }
  StepBreakdown breakdown() const;

  // The row with this key; nullptr when absent.
  const Row* row(const QString& key) const;
  const std::vector<Row>& rows() const { return rows_; }

  int rowCount(const QModelIndex& parent = {}) const override;
  int columnCount(const QModelIndex& parent = {}) const override;
  QVariant data(const QModelIndex& index, int role) const override;
  QVariant headerData(int section, Qt::Orientation orientation, int role) const override;

 private:
  void rebuild();

  PredictionPtr result_;
  PreviewPtr preview_;
  std::vector<Row> rows_;
  bool stale_ = false;
};

}  // namespace clustersim::gui
