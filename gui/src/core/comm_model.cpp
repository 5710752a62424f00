// CommModel: communication per group kind and collective type, exposed vs overlapped.
#include "core/comm_model.hpp"

#include <algorithm>

#include "clustersim/reports/analysis.hpp"
#include "clustersim/reports/format.hpp"

namespace clustersim::gui {

CommModel::CommModel(QObject* parent) : QAbstractTableModel(parent) {}

void CommModel::set_result(const PredictionPtr& result) {
  if (result) {
    set_trace(result->trace);
  } else {
    beginResetModel();
    rows_.clear();
    endResetModel();
  }
}

void CommModel::set_trace(const plan::Trace& trace) {
  beginResetModel();
  try {
    rows_ = reports::comm_by_group_type(trace);
  } catch (const std::exception&) {
    rows_.clear();  // a malformed trace shows no communication rather than failing the view
  }
  std::stable_sort(rows_.begin(), rows_.end(),
                   [](const plan::CommSummary& a, const plan::CommSummary& b) { return a.time_s > b.time_s; });
  endResetModel();
}

QString CommModel::label(int row) const {
  if (row < 0 || row >= rowCount()) return {};
  const auto& r = rows_[static_cast<std::size_t>(row)];
  return QString::fromStdString(std::string(to_string(r.group)) + " " + r.type);
}

double CommModel::total_time_s() const {
  double t = 0;
  for (const auto& r : rows_) t += r.time_s;
  return t;
}

double CommModel::total_exposed_s() const {
  double t = 0;
  for (const auto& r : rows_) t += r.exposed_s;
  return t;
}

int CommModel::rowCount(const QModelIndex& parent) const {
  return parent.isValid() ? 0 : static_cast<int>(rows_.size());
}

int CommModel::columnCount(const QModelIndex& parent) const {
  return parent.isValid() ? 0 : column_count_;
}

QVariant CommModel::data(const QModelIndex& index, int role) const {
  if (!index.isValid() || index.row() >= rowCount()) return {};
  const auto& r = rows_[static_cast<std::size_t>(index.row())];
  const double overlapped = std::max(0.0, r.time_s - r.exposed_s);
  if (role == Qt::DisplayRole) {
    switch (index.column()) {
      case group_column:
        return QString::fromStdString(std::string(to_string(r.group)));
      case type_column:
        return QString::fromStdString(r.type);
      case count_column:
        return static_cast<qlonglong>(r.count);
      case bytes_column:
        return QString::fromStdString(reports::format_bytes(r.bytes));
      case time_column:
        return QString::fromStdString(reports::format_duration_s(r.time_s));
      case exposed_column:
        return QString::fromStdString(reports::format_duration_s(r.exposed_s));
      case overlapped_column:
        return QString::fromStdString(reports::format_duration_s(overlapped));
      default:
        return {};
    }
  }
  if (role == Qt::UserRole) {
    switch (index.column()) {
      case count_column:
        return static_cast<qlonglong>(r.count);
      case bytes_column:
        return static_cast<qlonglong>(r.bytes);
      case time_column:
        return r.time_s;
      case exposed_column:
        return r.exposed_s;
      case overlapped_column:
        return overlapped;
      default:
        return data(index, Qt::DisplayRole);
    }
  }
  if (role == Qt::TextAlignmentRole && index.column() >= count_column) return int(Qt::AlignRight | Qt::AlignVCenter);
  return {};
}

QVariant CommModel::headerData(int section, Qt::Orientation orientation, int role) const {
  if (orientation != Qt::Horizontal || role != Qt::DisplayRole) return {};
  static const char* names[] = {"Group", "Type", "Count", "Bytes", "Time / step", "Exposed", "Overlapped"};
  return section >= 0 && section < column_count_ ? QString::fromLatin1(names[section]) : QVariant();
}

}  // namespace clustersim::gui
