// The Memory view's model: for each recorded rank (one representative per rank class in a symmetric
// simulation, so in practice one per pipeline stage), the bytes alive at its peak broken down by
// tensor role, plus the usable capacity. Rows are ranks, columns the roles (reports::main_memory_roles
// and any other role that is non-zero), then the peak. With more than `max_categories` recorded ranks
// (an expanded simulation), the highest-peak rank of each program stands for it.
#pragma once

#include <cstdint>
#include <vector>

#include <QAbstractTableModel>
#include <QString>

#include "clustersim/plan/trace.hpp"
#include "core/prediction.hpp"

namespace clustersim::gui {

class MemoryModel : public QAbstractTableModel {
  Q_OBJECT
 public:
  static constexpr int max_categories = 32;

  struct Category {
    std::int32_t rank = 0;
    QString label;                    // "rank 0 (stage0)"
    QString short_label;              // "stage0" (the program's name), else "rank 0"
    std::vector<std::int64_t> bytes;  // by role, same order as roles()
    std::int64_t peak_bytes = 0;
    bool fits = true;
  };

  explicit MemoryModel(QObject* parent = nullptr);

  void set_result(const PredictionPtr& result);
  // For measured traces or tests.
  void set_trace(const plan::Trace& trace);

  const std::vector<TensorRole>& roles() const { return roles_; }
  QString role_label(int column) const;
  const std::vector<Category>& categories() const { return categories_; }
  std::int64_t capacity_bytes() const { return capacity_bytes_; }
  std::int64_t max_peak_bytes() const;

  int rowCount(const QModelIndex& parent = {}) const override;
  int columnCount(const QModelIndex& parent = {}) const override;
  QVariant data(const QModelIndex& index, int role) const override;
  QVariant headerData(int section, Qt::Orientation orientation, int role) const override;

 private:
  std::vector<TensorRole> roles_;
  std::vector<Category> categories_;
  std::int64_t capacity_bytes_ = 0;
};

}  // namespace clustersim::gui
