// SweepModel: sweep CSV parsing, parameter columns, Pareto front.
#include "core/sweep_model.hpp"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <limits>
#include <sstream>

#include <QBrush>
#include <QColor>
#include <QFont>

#include "clustersim/reports/csv_report.hpp"
#include "clustersim/reports/format.hpp"

namespace clustersim::gui {

namespace {

double to_number(const std::string& s) {
  if (s.empty()) return 0.0;
  char* end = nullptr;
  const double v = std::strtod(s.c_str(), &end);
  return end == s.c_str() ? 0.0 : v;
}

}  // namespace

void mark_pareto(std::vector<SweepPoint>& points) {
  const bool any_fit = std::any_of(points.begin(), points.end(), [](const SweepPoint& p) { return p.fits; });
  for (auto& p : points) p.pareto = false;
  for (std::size_t i = 0; i < points.size(); ++i) {
    const SweepPoint& p = points[i];
    if (any_fit && !p.fits) continue;
    bool dominated = false;
    for (std::size_t j = 0; j < points.size() && !dominated; ++j) {
      if (i == j) continue;
      const SweepPoint& q = points[j];
      if (any_fit && !q.fits) continue;
      const bool no_worse = q.peak_memory_bytes <= p.peak_memory_bytes && q.throughput >= p.throughput;
      const bool better = q.peak_memory_bytes < p.peak_memory_bytes || q.throughput > p.throughput;
      // Identical points: the first one stays on the front.
      const bool identical = q.peak_memory_bytes == p.peak_memory_bytes && q.throughput == p.throughput;
      dominated = (no_worse && better) || (identical && j < i);
    }
    points[i].pareto = !dominated;
  }
}

SweepModel::SweepModel(QObject* parent) : QAbstractTableModel(parent) {}

void SweepModel::clear() {
  beginResetModel();
  columns_.clear();
  parameters_.clear();
  points_.clear();
  endResetModel();
}

QString SweepModel::load_csv_file(const QString& path) {
  std::ifstream in(path.toStdString(), std::ios::binary);
  if (!in) return QStringLiteral("cannot read %1").arg(path);
  std::ostringstream text;
  text << in.rdbuf();
  const QString error = load_csv_text(text.str());
  return error.isEmpty() ? error : path + ": " + error;
}

QString SweepModel::load_csv_text(const std::string& text) {
  std::vector<std::vector<std::string>> rows;
  try {
    rows = reports::csv_parse(text);
  } catch (const std::exception& e) {
    return QString::fromStdString(e.what());
  }
  if (rows.empty()) return QStringLiteral("the sweep CSV is empty");
  const auto& header = rows.front();
  const auto column = [&](const std::string& name) -> int {
    const auto it = std::find(header.begin(), header.end(), name);
    return it == header.end() ? -1 : static_cast<int>(it - header.begin());
  };
  const std::vector<std::string> standard = reports::csv_columns();
  for (const char* required : {"step_time_s", "tokens_per_s", "samples_per_s", "peak_memory_bytes", "fits"})
    if (column(required) < 0)
      return QStringLiteral("the sweep CSV has no \"%1\" column (expected the columns of `clustersim sweep`)")
          .arg(required);
  const int c_title = column(standard.front());
  const int n_extra = c_title < 0 ? 0 : c_title;
  const int c_step = column("step_time_s"), c_tokens = column("tokens_per_s"), c_samples = column("samples_per_s");
  const int c_peak = column("peak_memory_bytes"), c_fits = column("fits"), c_mfu = column("mfu");

  std::vector<SweepPoint> points;
  bool any_tokens = false;
  for (std::size_t r = 1; r < rows.size(); ++r) {
    const auto& row = rows[r];
    if (row.size() == 1 && row[0].empty()) continue;
    if (row.size() != header.size())
      return QStringLiteral("row %1 has %2 fields, the header %3").arg(r + 1).arg(row.size()).arg(header.size());
    SweepPoint p;
    for (const auto& f : row) p.fields << QString::fromStdString(f);
    p.step_time_s = to_number(row[static_cast<std::size_t>(c_step)]);
    p.peak_memory_bytes = static_cast<std::int64_t>(to_number(row[static_cast<std::size_t>(c_peak)]));
    p.fits = row[static_cast<std::size_t>(c_fits)] != "false" && row[static_cast<std::size_t>(c_fits)] != "0";
    p.mfu = c_mfu >= 0 ? to_number(row[static_cast<std::size_t>(c_mfu)]) : 0.0;
    const double tokens = to_number(row[static_cast<std::size_t>(c_tokens)]);
    if (tokens > 0) any_tokens = true;
    p.throughput = tokens;
    QStringList label;
    for (int c = 0; c < n_extra; ++c) {
      const std::string& name = header[static_cast<std::size_t>(c)];
      const std::string& value = row[static_cast<std::size_t>(c)];
      if (name.find('.') == std::string::npos || value.empty()) continue;
      nlohmann::json v;
      try {
        v = nlohmann::json::parse(value);
      } catch (const nlohmann::json::exception&) {
        v = value;
      }
      p.assignments.emplace_back(name, v);
      label << QString::fromStdString(name + "=" + value);
    }
    p.label = label.join(QStringLiteral(", "));
    points.push_back(std::move(p));
  }
  if (!any_tokens) {
    for (std::size_t i = 0; i < points.size(); ++i)
      points[i].throughput = to_number(rows[i + 1][static_cast<std::size_t>(c_samples)]);
  }
  mark_pareto(points);

  beginResetModel();
  columns_.clear();
  for (const auto& h : header) columns_ << QString::fromStdString(h);
  parameters_.clear();
  for (int c = 0; c < n_extra; ++c)
    if (header[static_cast<std::size_t>(c)].find('.') != std::string::npos) parameters_ << columns_[c];
  throughput_unit_ = any_tokens ? QStringLiteral("tokens/s") : QStringLiteral("samples/s");
  points_ = std::move(points);
  endResetModel();
  emit loaded();
  return {};
}

std::vector<int> SweepModel::pareto_front() const {
  std::vector<int> out;
  for (std::size_t i = 0; i < points_.size(); ++i)
    if (points_[i].pareto) out.push_back(static_cast<int>(i));
  std::sort(out.begin(), out.end(), [&](int a, int b) {
    const auto& pa = points_[static_cast<std::size_t>(a)];
    const auto& pb = points_[static_cast<std::size_t>(b)];
    return pa.peak_memory_bytes != pb.peak_memory_bytes ? pa.peak_memory_bytes < pb.peak_memory_bytes
                                                        : pa.throughput < pb.throughput;
  });
  return out;
}

int SweepModel::nearest_point(double memory_gib, double throughput, double memory_span_gib,
                              double throughput_span) const {
  int best = -1;
  double best_d = std::numeric_limits<double>::infinity();
  const double ms = memory_span_gib > 0 ? memory_span_gib : 1.0;
  const double ts = throughput_span > 0 ? throughput_span : 1.0;
  for (std::size_t i = 0; i < points_.size(); ++i) {
    const double dm =
        (static_cast<double>(points_[i].peak_memory_bytes) / (1024.0 * 1024.0 * 1024.0) - memory_gib) / ms;
    const double dt = (points_[i].throughput - throughput) / ts;
    const double d = dm * dm + dt * dt;
    if (d < best_d) {
      best_d = d;
      best = static_cast<int>(i);
    }
  }
  return best;
}

int SweepModel::rowCount(const QModelIndex& parent) const {
  return parent.isValid() ? 0 : static_cast<int>(points_.size());
}

int SweepModel::columnCount(const QModelIndex& parent) const {
  return parent.isValid() ? 0 : static_cast<int>(columns_.size());
}

QVariant SweepModel::data(const QModelIndex& index, int role) const {
  if (!index.isValid() || index.row() >= rowCount() || index.column() >= columnCount()) return {};
  const SweepPoint& p = points_[static_cast<std::size_t>(index.row())];
  if (role == Qt::DisplayRole) return p.fields.value(index.column());
  if (role == Qt::FontRole && p.pareto) {
    QFont f;
    f.setBold(true);
    return f;
  }
  if (role == Qt::ForegroundRole && !p.fits) return QBrush(QColor(0xa0, 0xa0, 0xa0));
  if (role == Qt::ToolTipRole) return p.label + (p.pareto ? QStringLiteral(" (Pareto)") : QString());
  return {};
}

QVariant SweepModel::headerData(int section, Qt::Orientation orientation, int role) const {
  if (role != Qt::DisplayRole) return {};
  if (orientation == Qt::Horizontal) return columns_.value(section);
  return section + 1;
}

}  // namespace clustersim::gui
