// MemoryModel: per-rank memory at the peak by role, from Trace::memory.
#include "core/memory_model.hpp"

#include <algorithm>
#include <map>

#include <QBrush>
#include <QColor>

#include "clustersim/reports/analysis.hpp"
#include "clustersim/reports/format.hpp"

namespace clustersim::gui {

MemoryModel::MemoryModel(QObject* parent) : QAbstractTableModel(parent) {}

void MemoryModel::set_result(const PredictionPtr& result) {
  if (result) {
    set_trace(result->trace);
  } else {
    beginResetModel();
    roles_.clear();
    categories_.clear();
    capacity_bytes_ = 0;
    endResetModel();
  }
}

void MemoryModel::set_trace(const plan::Trace& trace) {
  beginResetModel();
  roles_ = reports::main_memory_roles();
  categories_.clear();
  capacity_bytes_ = trace.summary.capacity_bytes;

  // Which memory records to show.
  std::vector<const plan::RankMemory*> records;
  for (const auto& m : trace.memory) records.push_back(&m);
  const auto program_of = [&](std::int32_t rank) -> std::int32_t {
    for (std::size_t i = 0; i < trace.ranks.size(); ++i)
      if (trace.ranks[i] == rank && i < trace.program_of_rank.size()) return trace.program_of_rank[i];
    return -1;
  };
  if (records.size() > static_cast<std::size_t>(max_categories)) {
    std::map<std::int32_t, const plan::RankMemory*> best;
    for (const auto* m : records) {
      auto& b = best[program_of(m->rank)];
      if (!b || m->peak_bytes > b->peak_bytes) b = m;
    }
    records.clear();
    for (const auto& [program, m] : best) records.push_back(m);
    if (records.size() > static_cast<std::size_t>(max_categories)) records.resize(max_categories);
  }
  std::sort(records.begin(), records.end(), [](const auto* a, const auto* b) { return a->rank < b->rank; });

  // Extra roles that are non-zero somewhere.
  for (const auto* m : records)
    for (const auto& [role, bytes] : m->at_peak)
      if (bytes != 0 && std::find(roles_.begin(), roles_.end(), role) == roles_.end()) roles_.push_back(role);

  for (const auto* m : records) {
    Category c;
    c.rank = m->rank;
    const std::int32_t program = program_of(m->rank);
    QString name;
    if (program >= 0 && static_cast<std::size_t>(program) < trace.programs.size())
      name = QString::fromStdString(trace.programs[static_cast<std::size_t>(program)].name);
    c.label =
        name.isEmpty() ? QStringLiteral("rank %1").arg(m->rank) : QStringLiteral("rank %1 (%2)").arg(m->rank).arg(name);
    c.short_label = name.isEmpty() ? QStringLiteral("rank %1").arg(m->rank) : name;
    for (const TensorRole role : roles_) {
      const auto it = m->at_peak.find(role);
      c.bytes.push_back(it == m->at_peak.end() ? 0 : it->second);
    }
    c.peak_bytes = m->peak_bytes;
    c.fits = m->fits;
    if (capacity_bytes_ == 0) capacity_bytes_ = m->capacity_bytes;
    categories_.push_back(std::move(c));
  }
  endResetModel();
}

QString MemoryModel::role_label(int column) const {
  if (column < 0 || column >= static_cast<int>(roles_.size())) return {};
  return QString::fromStdString(reports::role_label(roles_[static_cast<std::size_t>(column)]));
}

std::int64_t MemoryModel::max_peak_bytes() const {
  std::int64_t peak = 0;
  for (const auto& c : categories_) peak = std::max(peak, c.peak_bytes);
  return peak;
}

int MemoryModel::rowCount(const QModelIndex& parent) const {
  return parent.isValid() ? 0 : static_cast<int>(categories_.size());
}

// Columns: label, one per role, peak.
int MemoryModel::columnCount(const QModelIndex& parent) const {
  return parent.isValid() ? 0 : static_cast<int>(roles_.size()) + 2;
}

QVariant MemoryModel::data(const QModelIndex& index, int role) const {
  if (!index.isValid() || index.row() >= rowCount()) return {};
  const Category& c = categories_[static_cast<std::size_t>(index.row())];
  const int n_roles = static_cast<int>(roles_.size());
  const int col = index.column();
  std::int64_t bytes = 0;
  if (col >= 1 && col <= n_roles) bytes = c.bytes[static_cast<std::size_t>(col - 1)];
  if (col == n_roles + 1) bytes = c.peak_bytes;
  if (role == Qt::DisplayRole) {
    if (col == 0) return c.label;
    return QString::fromStdString(reports::format_bytes(bytes));
  }
  if (role == Qt::UserRole) return col == 0 ? QVariant(c.rank) : QVariant(static_cast<qlonglong>(bytes));
  if (role == Qt::ForegroundRole && col == n_roles + 1 && !c.fits) return QBrush(QColor(0xc0, 0x10, 0x10));
  if (role == Qt::TextAlignmentRole && col > 0) return int(Qt::AlignRight | Qt::AlignVCenter);
  return {};
}

QVariant MemoryModel::headerData(int section, Qt::Orientation orientation, int role) const {
  if (orientation != Qt::Horizontal || role != Qt::DisplayRole) return {};
  if (section == 0) return QStringLiteral("Rank");
  if (section == static_cast<int>(roles_.size()) + 1) return QStringLiteral("Peak");
  return role_label(section - 1);
}

}  // namespace clustersim::gui
