// The Communication view's model: per (group kind, collective type) on the critical rank, per
// step: how many operations, how many bytes, how long, and how much of that time was exposed
// (compute stream idle) versus overlapped with compute. Rows come from
// reports::comm_by_group_type, so the numbers are the CLI report's.
#pragma once

#include <vector>

#include <QAbstractTableModel>

#include "clustersim/plan/trace.hpp"
#include "core/prediction.hpp"

namespace clustersim::gui {

class CommModel : public QAbstractTableModel {
  Q_OBJECT
 public:
  enum Column {
    group_column,
    type_column,
    count_column,
    bytes_column,
    time_column,
    exposed_column,
    overlapped_column,
    column_count_
  };

  explicit CommModel(QObject* parent = nullptr);

  void set_result(const PredictionPtr& result);
  void set_trace(const plan::Trace& trace);

  const std::vector<plan::CommSummary>& rows() const { return rows_; }
  // "dp all_reduce": the chart's category label of a row.
  QString label(int row) const;
  double total_time_s() const;
  double total_exposed_s() const;

  int rowCount(const QModelIndex& parent = {}) const override;
  int columnCount(const QModelIndex& parent = {}) const override;
  QVariant data(const QModelIndex& index, int role) const override;
  QVariant headerData(int section, Qt::Orientation orientation, int role) const override;

 private:
  std::vector<plan::CommSummary> rows_;
};

}  // namespace clustersim::gui
