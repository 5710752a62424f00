// The Sweep view's model: the points of a sweep, read from the CSV `clustersim sweep` writes (the
// columns of reports::csv_columns(), with the swept parameters as extra columns named by their
// scenario dot path) or produced in-process by SweepRunner in the same format. For each point it
// knows the throughput (tokens/s, or samples/s for non-token models), the peak memory, whether it
// fits, and the assignments that turn the base scenario into it, so clicking a point can load that
// configuration. The Pareto front (highest throughput for the least peak memory, among the points
// that fit) is computed here.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include <QAbstractTableModel>
#include <QString>
#include <QStringList>

#include <nlohmann/json.hpp>

namespace clustersim::gui {

struct SweepPoint {
  QStringList fields;       // the CSV row
  double throughput = 0.0;  // tokens/s, or samples/s when the sweep has no token throughput
  double step_time_s = 0.0;
  double mfu = 0.0;
  std::int64_t peak_memory_bytes = 0;
  bool fits = true;
  bool pareto = false;
  std::vector<std::pair<std::string, nlohmann::json>> assignments;  // parameter columns (dot paths)
  QString label;                                                    // "parallelism.tp=2, training.micro_batch=4"
};

class SweepModel : public QAbstractTableModel {
  Q_OBJECT
 public:
  explicit SweepModel(QObject* parent = nullptr);

  // Reads a sweep CSV file; returns an error message (empty on success). On error the model is
  // unchanged.
  QString load_csv_file(const QString& path);
  // Parses CSV text (reports::csv_parse); error message or empty.
  QString load_csv_text(const std::string& text);
  void clear();

  const QStringList& columns() const { return columns_; }
  const std::vector<SweepPoint>& points() const { return points_; }
  // The parameter columns (extra columns naming scenario dot paths).
  const QStringList& parameters() const { return parameters_; }
  // "tokens/s" or "samples/s".
  const QString& throughput_unit() const { return throughput_unit_; }
  // Indices of the Pareto points, by increasing peak memory.
  std::vector<int> pareto_front() const;
  // The point nearest to (peak memory GiB, throughput) in a chart normalised by the given spans;
  // -1 when there are no points.
  int nearest_point(double memory_gib, double throughput, double memory_span_gib, double throughput_span) const;

  int rowCount(const QModelIndex& parent = {}) const override;
  int columnCount(const QModelIndex& parent = {}) const override;
  QVariant data(const QModelIndex& index, int role) const override;
  QVariant headerData(int section, Qt::Orientation orientation, int role) const override;

 signals:
  void loaded();

 private:
  QStringList columns_;
  QStringList parameters_;
  QString throughput_unit_ = QStringLiteral("tokens/s");
  std::vector<SweepPoint> points_;
};

// Marks the Pareto-optimal points (max throughput, min peak memory) among those that fit; when
// none fits, among all. Exposed for tests.
void mark_pareto(std::vector<SweepPoint>& points);

}  // namespace clustersim::gui
