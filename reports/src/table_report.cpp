// The console report of one trace (see table.hpp for what it shows and why).
#include <algorithm>
#include <cmath>

#include <fmt/format.h>

#include "clustersim/reports/analysis.hpp"
#include "clustersim/reports/format.hpp"
#include "clustersim/reports/table.hpp"
#include "text_table.hpp"

namespace clustersim::reports {

using detail::Style;
using detail::TextTable;
using Align = TextTable::Align;

namespace {

void write_header(const plan::Trace& trace, const ReportContext& context, const Style& style, std::ostream& out) {
  out << style.bold(context.title.empty() ? default_title(trace) : context.title) << '\n';
  std::vector<std::pair<std::string, std::string>> facts{
      {"scenario", trace.scenario},
      {"hardware", trace.hardware},
      {"backend", trace.backend},
      {"source", trace.source == plan::TraceSource::simulated ? "simulated" : "measured"}};
  for (const auto& f : context.facts) facts.push_back(f);
  facts.erase(std::remove_if(facts.begin(), facts.end(), [](const auto& f) { return f.second.empty(); }), facts.end());
  std::size_t key_w = 0, value_w = 0;
  for (const auto& [k, v] : facts) {
    key_w = std::max(key_w, detail::display_width(k));
    value_w = std::max(value_w, detail::display_width(v));
  }
  // Two facts per line when they fit in 100 columns, else one.
  const bool two_per_line = 2 + 2 * (key_w + 2 + value_w) + 4 <= 100;
  TextTable table(two_per_line ? std::vector<Align>{Align::left, Align::left, Align::left, Align::left}
                               : std::vector<Align>{Align::left, Align::left});
  for (std::size_t i = 0; i < facts.size(); i += two_per_line ? 2 : 1) {
    std::vector<std::string> row{facts[i].first, facts[i].second};
    if (two_per_line && i + 1 < facts.size()) {
      row.push_back("  " + facts[i + 1].first);
      row.push_back(facts[i + 1].second);
    }
    table.add(std::move(row));
  }
  table.write(out);
}

void write_throughput(const plan::Trace& trace, const Style& style, std::ostream& out) {
  const plan::Summary& s = trace.summary;
  out << style.bold("Throughput") << '\n';
  std::vector<std::pair<std::string, std::string>> cells{{"step time", format_duration_s(s.step_time_s)}};
  if (s.tokens_per_s > 0.0) cells.emplace_back("throughput", format_rate(s.tokens_per_s, "tokens/s"));
  if (s.samples_per_s > 0.0)
    cells.emplace_back(s.tokens_per_s > 0.0 ? "samples" : "throughput", format_rate(s.samples_per_s, "samples/s"));
  cells.emplace_back("MFU", format_percent(s.mfu));
  cells.emplace_back("HFU", format_percent(s.hfu));
  if (s.model_flops_per_step > 0.0) {
    cells.emplace_back("model FLOPs", format_flops(s.model_flops_per_step) + "/step");
    if (s.step_time_s > 0.0)
      cells.emplace_back("model FLOP/s", format_flops_rate(s.model_flops_per_step / s.step_time_s));
  }
  if (trace.source == plan::TraceSource::measured || s.steps > 1) {
    std::string steps = std::to_string(s.steps);
    if (s.skipped_steps > 0) steps += fmt::format(" ({} skipped)", s.skipped_steps);
    cells.emplace_back("steps", steps);
  }
  if (!s.losses.empty()) cells.emplace_back("final loss", fmt::format("{:.4f}", s.losses.back()));
  // A calibrated prediction over sampled per-rank speeds (engine::simulate): the spread of the step.
  if (const auto it = trace.extra.find("rank_noise"); it != trace.extra.end() && it->is_object()) {
    const auto& q = it->value("step_time_s", nlohmann::json::object());
    if (q.contains("p10") && q.contains("p90"))
      cells.emplace_back("step p10-p90", format_duration_s(q["p10"].get<double>()) + " - " +
                                             format_duration_s(q["p90"].get<double>()));
  }
  if (s.loss_scale > 0.0) cells.emplace_back("loss scale", format_number(s.loss_scale));
  TextTable table({Align::left, Align::right, Align::left, Align::right, Align::left, Align::right});
  for (std::size_t i = 0; i < cells.size(); i += 3) {
    std::vector<std::string> row;
    for (std::size_t j = i; j < std::min(i + 3, cells.size()); ++j) {
      row.push_back(j == i ? cells[j].first : "  " + cells[j].first);
      row.push_back(cells[j].second);
    }
    table.add(std::move(row));
  }
  table.write(out);
}

void write_memory(const plan::Trace& trace, const Style& style, std::ostream& out) {
  const plan::RankMemory* m = peak_memory_rank(trace);
  if (m == nullptr) {
    out << style.bold("Memory per GPU") << "\n  no memory records\n";
    return;
  }
  out << style.bold("Memory per GPU")
      << fmt::format(" (rank {}, the highest peak, at {})", m->rank,
                     format_duration_ns(static_cast<double>(m->peak_time_ns)))
      << '\n';
  const std::int64_t capacity = m->capacity_bytes > 0 ? m->capacity_bytes : trace.summary.capacity_bytes;
  std::string verdict;
  if (capacity <= 0) {
    verdict = "capacity unknown";
  } else {
    const std::int64_t margin = capacity - m->peak_bytes;
    const double share = static_cast<double>(m->peak_bytes) / static_cast<double>(capacity);
    if (m->fits && margin >= 0)
      verdict = style.green("fits") +
                fmt::format(", {} free ({} of capacity used)", format_bytes(margin), format_percent(share));
    else
      verdict = style.red("DOES NOT FIT") + fmt::format(", {} over ({} of capacity)",
                                                        format_bytes(std::max<std::int64_t>(-margin, 0)),
                                                        format_percent(share));
  }
  out << "  peak " << format_bytes(m->peak_bytes) << " of " << (capacity > 0 ? format_bytes(capacity) : "?") << ": "
      << verdict << '\n';
  TextTable table({Align::left, Align::right, Align::right});
  std::int64_t attributed = 0;
  const auto row = [&](const std::string& label, std::int64_t bytes) {
    const double share = m->peak_bytes > 0 ? static_cast<double>(bytes) / static_cast<double>(m->peak_bytes) : 0.0;
    table.add({label, format_bytes(bytes), format_percent(share)});
  };
  const auto& main_roles = main_memory_roles();
  for (TensorRole role : main_roles) {
    const auto it = m->at_peak.find(role);
    const std::int64_t bytes = it == m->at_peak.end() ? 0 : it->second;
    attributed += bytes;
    row(role_label(role), bytes);
  }
  for (const auto& [role, bytes] : m->at_peak) {
    if (std::find(main_roles.begin(), main_roles.end(), role) != main_roles.end() || bytes == 0) continue;
    attributed += bytes;
    row(role_label(role), bytes);
  }
  if (m->peak_bytes > attributed) row("unattributed", m->peak_bytes - attributed);
  table.write(out);
}

void write_time(const plan::Trace& trace, const Style& style, std::ostream& out) {
  const plan::Summary& s = trace.summary;
  double step = s.step_time_s, compute = s.compute_time_s, exposed = s.exposed_comm_s, comm = s.comm_time_s;
  double bubble = s.bubble_fraction * step;
  std::int32_t rank = s.critical_rank;
  std::string origin;
  if (compute == 0.0 && !trace.ops.empty()) {
    // A trace whose summary carries no time breakdown: measure it on the op spans of the critical
    // rank (the first recorded rank when the critical one is not recorded).
    const auto activity = rank_activity(trace);
    const auto it =
        std::find_if(activity.begin(), activity.end(), [&](const RankActivity& a) { return a.rank == rank; });
    const RankActivity& a = it != activity.end() ? *it : activity.front();
    rank = a.rank;
    step = a.step_window_s;
    compute = a.compute_busy_s;
    exposed = a.exposed_comm_s;
    comm = a.comm_time_s;
    bubble = 0.0;
    origin = fmt::format(", from the op spans of {} step{}", a.steps, a.steps == 1 ? "" : "s");
  }
  out << style.bold("Time per step") << fmt::format(" (rank {}{})", rank, origin) << '\n';
  TextTable table({Align::left, Align::right, Align::right});
  const auto row = [&](const std::string& label, double seconds) {
    table.add({label, format_duration_s(seconds), step > 0.0 ? format_percent(seconds / step) : ""});
  };
  row("compute", compute);
  row("exposed comm", exposed);
  row("bubble", bubble);
  const double other = step - compute - exposed - bubble;
  if (step > 0.0 && other > 1e-3 * step) row("other idle", other);
  table.write(out);
  if (comm > 0.0) {
    const double overlapped = std::max(0.0, comm - exposed) / comm;
    out << fmt::format("  communication {} in all, {} of it overlapped with compute\n", format_duration_s(comm),
                       format_percent(overlapped));
  }
}

void write_comm(const plan::Trace& trace, const Style& style, std::ostream& out) {
  const auto comm = comm_by_group_type(trace);
  out << style.bold("Communication per step") << '\n';
  if (comm.empty()) {
    out << "  none\n";
    return;
  }
  TextTable table({Align::left, Align::left, Align::right, Align::right, Align::right, Align::right});
  table.add({"group", "type", "count", "bytes", "time", "exposed"});
  for (const auto& c : comm)
    table.add({std::string(to_string(c.group)), c.type, std::to_string(c.count), format_bytes(c.bytes),
               format_duration_s(c.time_s), format_duration_s(c.exposed_s)});
  table.write(out);
}

void write_ranks(const plan::Trace& trace, const RenderOptions& options, const Style& style, std::ostream& out) {
  if (trace.ranks.size() <= 1) return;
  const auto activity = rank_activity(trace);
  out << style.bold("Per rank") << " (per step)\n";
  TextTable table(
      {Align::right, Align::left, Align::right, Align::left, Align::right, Align::right, Align::right, Align::right});
  table.add({"rank", "program", "peak mem", "", "compute", "comm", "exposed", "idle"});
  const std::size_t shown =
      options.max_rank_rows == 0 ? activity.size() : std::min(activity.size(), options.max_rank_rows);
  for (std::size_t i = 0; i < shown; ++i) {
    const RankActivity& a = activity[i];
    std::string peak = "-", verdict;
    for (const auto& m : trace.memory)
      if (m.rank == a.rank) {
        peak = format_bytes(m.peak_bytes);
        verdict = m.fits ? "fits" : style.red("DOES NOT FIT");
      }
    table.add({std::to_string(a.rank), a.program_name, peak, verdict, format_duration_s(a.compute_busy_s),
               format_duration_s(a.comm_time_s), format_duration_s(a.exposed_comm_s), format_duration_s(a.idle_s)});
  }
  table.write(out);
  if (shown < activity.size()) out << fmt::format("  ... {} more ranks\n", activity.size() - shown);
}

}  // namespace

std::string default_title(const plan::Trace& trace) {
  return std::string(trace.source == plan::TraceSource::simulated ? "clustersim prediction"
                                                                  : "clustersim measurement") +
         (trace.scenario.empty() ? std::string() : ": " + trace.scenario);
}

void write_table_report(const plan::Trace& trace, const ReportContext& context, std::ostream& out,
                        const RenderOptions& options) {
  const Style style{options.color};
  write_header(trace, context, style, out);
  out << '\n';
  write_throughput(trace, style, out);
  out << '\n';
  write_memory(trace, style, out);
  out << '\n';
  write_time(trace, style, out);
  out << '\n';
  write_comm(trace, style, out);
  if (trace.ranks.size() > 1) {
    out << '\n';
    write_ranks(trace, options, style, out);
  }
}

}  // namespace clustersim::reports
