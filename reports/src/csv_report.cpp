// One CSV row per trace, for `--format csv` and sweeps (columns documented in csv_report.hpp).
#include "clustersim/reports/csv_report.hpp"

#include <fmt/format.h>

#include "clustersim/reports/analysis.hpp"
#include "clustersim/reports/format.hpp"
#include "clustersim/reports/table.hpp"

namespace clustersim::reports {

namespace {

const std::vector<std::string>& standard_columns() {
  static const std::vector<std::string> columns = [] {
    std::vector<std::string> c{"title",
                               "scenario",
                               "hardware",
                               "backend",
                               "source",
                               "steps",
                               "step_time_s",
                               "tokens_per_s",
                               "samples_per_s",
                               "model_flops_per_step",
                               "mfu",
                               "hfu",
                               "compute_time_s",
                               "comm_time_s",
                               "exposed_comm_s",
                               "bubble_fraction",
                               "peak_memory_bytes",
                               "capacity_bytes",
                               "memory_margin_bytes",
                               "fits",
                               "critical_rank",
                               "recorded_ranks",
                               "skipped_steps",
                               "final_loss",
                               "loss_scale",
                               "events",
                               "wall_time_s"};
    for (const auto& role : EnumNames<TensorRole>::names) c.push_back(std::string(role) + "_bytes");
    return c;
  }();
  return columns;
}

// Shortest decimal form that reads back to the same double.
std::string number(double v) {
  return fmt::format("{}", v);
}

}  // namespace

std::vector<std::string> csv_columns(const CsvColumns& extra) {
  std::vector<std::string> columns;
  for (const auto& [name, value] : extra) columns.push_back(name);
  const auto& standard = standard_columns();
  columns.insert(columns.end(), standard.begin(), standard.end());
  return columns;
}

std::string csv_header(const CsvColumns& extra) {
  return csv_join(csv_columns(extra));
}

std::string csv_row(const plan::Trace& trace, const ReportContext& context, const CsvColumns& extra) {
  const plan::Summary& s = trace.summary;
  std::vector<std::string> v;
  for (const auto& [name, value] : extra) v.push_back(value);
  v.push_back(context.title.empty() ? default_title(trace) : context.title);
  v.push_back(trace.scenario);
  v.push_back(trace.hardware);
  v.push_back(trace.backend);
  v.push_back(trace.source == plan::TraceSource::simulated ? "simulated" : "measured");
  v.push_back(std::to_string(s.steps));
  v.push_back(number(s.step_time_s));
  v.push_back(number(s.tokens_per_s));
  v.push_back(number(s.samples_per_s));
  v.push_back(number(s.model_flops_per_step));
  v.push_back(number(s.mfu));
  v.push_back(number(s.hfu));
  v.push_back(number(s.compute_time_s));
  v.push_back(number(s.comm_time_s));
  v.push_back(number(s.exposed_comm_s));
  v.push_back(number(s.bubble_fraction));
  v.push_back(std::to_string(s.peak_memory_bytes));
  v.push_back(std::to_string(s.capacity_bytes));
  v.push_back(std::to_string(s.capacity_bytes - s.peak_memory_bytes));
  v.push_back(s.fits ? "true" : "false");
  v.push_back(std::to_string(s.critical_rank));
  v.push_back(std::to_string(trace.ranks.size()));
  v.push_back(std::to_string(s.skipped_steps));
  v.push_back(s.losses.empty() ? std::string() : number(s.losses.back()));
  v.push_back(number(s.loss_scale));
  v.push_back(std::to_string(s.events));
  v.push_back(number(s.wall_time_s));
  const plan::RankMemory* peak = peak_memory_rank(trace);
  for (std::size_t r = 0; r < enum_count<TensorRole>(); ++r) {
    std::int64_t bytes = 0;
    if (peak != nullptr) {
      const auto it = peak->at_peak.find(static_cast<TensorRole>(r));
      if (it != peak->at_peak.end()) bytes = it->second;
    }
    v.push_back(std::to_string(bytes));
  }
  return csv_join(v);
}

void write_csv_report(const plan::Trace& trace, const ReportContext& context, std::ostream& out,
                      const RenderOptions& /*options*/) {
  const CsvColumns extra(context.facts.begin(), context.facts.end());
  out << csv_header(extra) << '\n' << csv_row(trace, context, extra) << '\n';
}

}  // namespace clustersim::reports
