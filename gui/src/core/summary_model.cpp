// SummaryModel: headline figures of a prediction, formatted by the reports library.
#include "core/summary_model.hpp"

#include <algorithm>

#include <QBrush>
#include <QColor>
#include <QFont>

#include "clustersim/reports/format.hpp"

namespace clustersim::gui {

namespace {

QString q(const std::string& s) {
  return QString::fromStdString(s);
}

}  // namespace

StepBreakdown step_breakdown(const plan::Summary& s) {
  StepBreakdown b;
  b.step_s = std::max(0.0, s.step_time_s);
  b.compute_s = std::clamp(s.compute_time_s, 0.0, b.step_s);
  b.exposed_comm_s = std::clamp(s.exposed_comm_s, 0.0, b.step_s - b.compute_s);
  b.bubble_s = std::clamp(s.bubble_fraction * b.step_s, 0.0, b.step_s - b.compute_s - b.exposed_comm_s);
  b.other_s = std::max(0.0, b.step_s - b.compute_s - b.exposed_comm_s - b.bubble_s);
  return b;
}

SummaryModel::SummaryModel(QObject* parent) : QAbstractTableModel(parent) {}

void SummaryModel::set_result(PredictionPtr result) {
  result_ = std::move(result);
  if (preview_ && result_ && result_->revision >= preview_->revision) preview_.reset();
  rebuild();
}

void SummaryModel::set_preview(PreviewPtr preview) {
  if (preview && result_ && result_->revision >= preview->revision) preview.reset();
  preview_ = std::move(preview);
  rebuild();
}

void SummaryModel::rebuild() {
  beginResetModel();
  rows_.clear();
  if (result_) {
    using namespace reports;
    const auto& r = *result_;
    const auto& s = r.trace.summary;
    const auto& m = r.meta;
    const auto add = [&](const char* key, const char* metric, const std::string& value, double raw,
                         const std::string& detail = {}) {
      rows_.push_back({key, metric, q(value), raw, q(detail)});
    };
    add("scenario", "Scenario", r.scenario_name, 0.0, r.hardware.name);
    add("gpus", "GPUs", std::to_string(r.world_size) + " x " + r.hardware.gpu.name, r.world_size,
        std::to_string(r.hardware.nodes) + " nodes x " + std::to_string(r.hardware.gpus_per_node) + " GPUs");
    add("parallelism", "Parallelism",
        "dp " + std::to_string(m.dp) + ", tp " + std::to_string(m.tp) + ", pp " + std::to_string(m.pp) +
            (m.zero_stage > 0 ? ", ZeRO-" + std::to_string(m.zero_stage) : ""),
        0.0, std::to_string(m.num_microbatches) + " micro-batches of " + std::to_string(m.micro_batch));
    add("step_time", "Step time", format_duration_s(s.step_time_s), s.step_time_s, "one optimizer step");
    if (s.tokens_per_s > 0)
      add("tokens_per_s", "Throughput", format_rate(s.tokens_per_s, "tokens/s"), s.tokens_per_s,
          std::to_string(m.tokens_per_step) + " tokens per step");
    add("samples_per_s", s.tokens_per_s > 0 ? "Samples" : "Throughput", format_rate(s.samples_per_s, "samples/s"),
        s.samples_per_s, std::to_string(m.global_batch) + " samples per step");
    add("mfu", "MFU", format_percent(s.mfu), s.mfu, "HFU " + format_percent(s.hfu));
    const double share = s.capacity_bytes > 0 ? static_cast<double>(s.peak_memory_bytes) / s.capacity_bytes : 0.0;
    add("peak_memory", "Peak memory",
        format_bytes(s.peak_memory_bytes) + " of " + format_bytes(s.capacity_bytes) +
            (s.capacity_bytes > 0 ? " (" + format_percent(share) + ")" : ""),
        static_cast<double>(s.peak_memory_bytes), "usable capacity " + format_bytes(s.capacity_bytes));
    add("fits", "Fits in memory", s.fits ? "yes" : "NO - out of memory", s.fits ? 1.0 : 0.0);
    const StepBreakdown b = step_breakdown(s);
    const auto part = [&](double v) {
      return format_duration_s(v) + (b.step_s > 0 ? " (" + format_percent(v / b.step_s) + ")" : "");
    };
    add("compute", "Compute", part(b.compute_s), b.compute_s, "busy time of the critical rank's compute stream");
    add("exposed_comm", "Exposed communication", part(b.exposed_comm_s), b.exposed_comm_s,
        "communication with the compute stream idle; total communication " + format_duration_s(s.comm_time_s));
    add("bubble", "Pipeline bubble", format_percent(s.bubble_fraction), s.bubble_fraction,
        "idle compute not explained by exposed collectives");
    add("comm_time", "Communication (total)", format_duration_s(s.comm_time_s), s.comm_time_s);
    add("model_flops", "Model FLOPs per step", format_flops(m.model_flops_per_step), m.model_flops_per_step);
    add("parameters", "Parameters", format_number(static_cast<double>(m.parameters)), static_cast<double>(m.parameters),
        m.model);
    add("simulated", "Simulated in",
        format_duration_s((r.build_ms + r.simulate_ms) * 1e-3) + " (" + std::to_string(r.trace.ranks.size()) +
            " ranks simulated)",
        r.build_ms + r.simulate_ms,
        "build " + format_duration_s(r.build_ms * 1e-3) + ", simulate " + format_duration_s(r.simulate_ms * 1e-3) +
            ", " + std::to_string(s.events) + " events, " + r.trace.backend);
  }
  if (preview_) {
    // The headline rows of the preview replace (or, before any prediction, stand in for) the
    // simulated ones.
    using namespace reports;
    const Preview& p = *preview_;
    const std::string how =
        p.anchor_revision != 0
            ? "estimate while the simulation runs: compute costed from one micro-batch's plan, communication and "
              "bubble in closed form, times simulated/modelled of the last prediction (step x" +
                  format_number(p.step_ratio) + ", memory x" + format_number(p.memory_ratio) + ")"
            : "estimate while the simulation runs (no simulated prediction to anchor it to)";
    const double share = p.capacity_bytes > 0 ? static_cast<double>(p.peak_memory_bytes) / p.capacity_bytes : 0.0;
    const auto estimated_part = [&](double v) {
      return format_duration_s(v) + (p.step_time_s > 0 ? " (" + format_percent(v / p.step_time_s) + ")" : "");
    };
    const std::vector<Row> estimated = {
        {"step_time", "Step time", q("≈ " + format_duration_s(p.step_time_s)), p.step_time_s, q(how), true},
        {"tokens_per_s", "Throughput", q("≈ " + format_rate(p.tokens_per_s, "tokens/s")), p.tokens_per_s, q(how), true},
        {"samples_per_s", "Samples", q("≈ " + format_rate(p.samples_per_s, "samples/s")), p.samples_per_s, q(how),
         true},
        {"mfu", "MFU", q("≈ " + format_percent(p.mfu)), p.mfu, q(how), true},
        {"peak_memory", "Peak memory",
         q("≈ " + format_bytes(p.peak_memory_bytes) + " of " + format_bytes(p.capacity_bytes) + " (" +
           format_percent(share) + ")"),
         static_cast<double>(p.peak_memory_bytes), q(how), true},
        {"fits", "Fits in memory", q(p.fits ? "≈ yes" : "≈ NO - out of memory"), p.fits ? 1.0 : 0.0, q(how), true},
        {"compute", "Compute", q("≈ " + estimated_part(p.compute_s)), p.compute_s, q(how), true},
        {"exposed_comm", "Exposed communication", q("≈ " + estimated_part(p.exposed_comm_s)), p.exposed_comm_s, q(how),
         true},
        {"bubble", "Pipeline bubble", q("≈ " + format_percent(p.step_time_s > 0 ? p.bubble_s / p.step_time_s : 0.0)),
         p.step_time_s > 0 ? p.bubble_s / p.step_time_s : 0.0, q(how), true},
    };
    for (const Row& e : estimated) {
      auto it = std::find_if(rows_.begin(), rows_.end(), [&](const Row& r) { return r.key == e.key; });
      if (it != rows_.end()) {
        *it = e;
      } else {
        rows_.push_back(e);
      }
    }
  }
  endResetModel();
}

void SummaryModel::set_stale(bool stale) {
  if (stale == stale_) return;
  stale_ = stale;
  if (!rows_.empty()) emit dataChanged(index(0, 0), index(rowCount() - 1, column_count_ - 1), {Qt::ForegroundRole});
}

StepBreakdown SummaryModel::breakdown() const {
  return result_ ? step_breakdown(result_->trace.summary) : StepBreakdown{};
}

const SummaryModel::Row* SummaryModel::row(const QString& key) const {
  for (const auto& r : rows_)
    if (r.key == key) return &r;
  return nullptr;
}

int SummaryModel::rowCount(const QModelIndex& parent) const {
  return parent.isValid() ? 0 : static_cast<int>(rows_.size());
}

int SummaryModel::columnCount(const QModelIndex& parent) const {
  return parent.isValid() ? 0 : column_count_;
}

QVariant SummaryModel::data(const QModelIndex& index, int role) const {
  if (!index.isValid() || index.row() >= rowCount()) return {};
  const Row& r = rows_[static_cast<std::size_t>(index.row())];
  switch (role) {
    case Qt::DisplayRole:
      return index.column() == metric_column ? r.metric : r.value;
    case Qt::ToolTipRole:
      return r.detail.isEmpty() ? QVariant() : QVariant(r.detail);
    case Qt::UserRole:
      return r.raw;
    case Qt::FontRole:
      if (r.estimated) {
        QFont italic;
        italic.setItalic(true);
        return italic;
      }
      return {};
    case Qt::ForegroundRole:
      if (r.estimated) return QBrush(QColor(0x1f, 0x4e, 0x9a));
      if (stale_) return QBrush(QColor(0x99, 0x99, 0x99));
      if (r.key == "fits" && r.raw == 0.0 && index.column() == value_column) return QBrush(QColor(0xc0, 0x10, 0x10));
      return {};
    default:
      return {};
  }
}

QVariant SummaryModel::headerData(int section, Qt::Orientation orientation, int role) const {
  if (orientation != Qt::Horizontal || role != Qt::DisplayRole) return {};
  return section == metric_column ? QStringLiteral("Metric") : QStringLiteral("Value");
}

}  // namespace clustersim::gui
