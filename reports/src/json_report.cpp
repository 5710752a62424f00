// The machine-readable report, schema "clustersim.report/1" (layout documented in json_report.hpp).
#include "clustersim/reports/json_report.hpp"

#include "clustersim/reports/analysis.hpp"
#include "clustersim/reports/table.hpp"

namespace clustersim::reports {

using nlohmann::json;

namespace {

json role_object(const std::map<TensorRole, std::int64_t>& roles) {
  json j = json::object();
  for (const auto& [role, bytes] : roles) j[std::string(to_string(role))] = bytes;
  return j;
}

std::int32_t program_of(const plan::Trace& trace, std::int32_t rank) {
  for (std::size_t i = 0; i < trace.ranks.size() && i < trace.program_of_rank.size(); ++i)
    if (trace.ranks[i] == rank) return trace.program_of_rank[i];
  return -1;
}

std::string program_name(const plan::Trace& trace, std::int32_t program) {
  for (const auto& p : trace.programs)
    if (p.program == program) return p.name;
  return {};
}

}  // namespace

json report_json(const plan::Trace& trace, const ReportContext& context, const RenderOptions& options) {
  const plan::Summary& s = trace.summary;
  json j;
  j["schema"] = kReportSchema;
  j["title"] = context.title.empty() ? default_title(trace) : context.title;
  json facts = json::object();
  for (const auto& [name, value] : context.facts) facts[name] = value;
  j["facts"] = std::move(facts);
  j["scenario"] = trace.scenario;
  j["hardware"] = trace.hardware;
  j["backend"] = trace.backend;
  j["source"] = trace.source == plan::TraceSource::simulated ? "simulated" : "measured";

  const std::int64_t capacity = s.capacity_bytes;
  j["summary"] = {{"step_time_s", s.step_time_s},
                  {"tokens_per_s", s.tokens_per_s},
                  {"samples_per_s", s.samples_per_s},
                  {"model_flops_per_step", s.model_flops_per_step},
                  {"mfu", s.mfu},
                  {"hfu", s.hfu},
                  {"compute_time_s", s.compute_time_s},
                  {"comm_time_s", s.comm_time_s},
                  {"exposed_comm_s", s.exposed_comm_s},
                  {"bubble_fraction", s.bubble_fraction},
                  {"bubble_time_s", s.bubble_fraction * s.step_time_s},
                  {"peak_memory_bytes", s.peak_memory_bytes},
                  {"capacity_bytes", capacity},
                  {"memory_margin_bytes", capacity - s.peak_memory_bytes},
                  {"fits", s.fits},
                  {"critical_rank", s.critical_rank},
                  {"steps", s.steps},
                  {"skipped_steps", s.skipped_steps},
                  {"loss_scale", s.loss_scale},
                  {"final_loss", s.losses.empty() ? json(nullptr) : json(s.losses.back())},
                  {"events", s.events},
                  {"wall_time_s", s.wall_time_s}};

  json memory = json::array();
  for (const auto& m : trace.memory) {
    const std::int32_t program = program_of(trace, m.rank);
    json jm = {{"rank", m.rank},
               {"program", program},
               {"program_name", program_name(trace, program)},
               {"peak_bytes", m.peak_bytes},
               {"peak_time_ns", m.peak_time_ns},
               {"capacity_bytes", m.capacity_bytes},
               {"margin_bytes", m.capacity_bytes - m.peak_bytes},
               {"fits", m.fits},
               {"persistent_bytes", m.persistent_bytes},
               {"measured_resident_bytes", m.measured_resident_bytes},
               {"by_role", role_object(m.at_peak)},
               {"role_peak", role_object(m.role_peak)}};
    if (options.include_timeline) {
      json tl = json::array();
      for (const auto& sample : m.timeline) tl.push_back({sample.t_ns, sample.bytes});
      jm["timeline"] = std::move(tl);
    }
    memory.push_back(std::move(jm));
  }
  j["memory"] = std::move(memory);

  json ranks = json::array();
  for (const auto& a : rank_activity(trace))
    ranks.push_back({{"rank", a.rank},
                     {"program", a.program},
                     {"program_name", a.program_name},
                     {"compute_busy_s", a.compute_busy_s},
                     {"idle_s", a.idle_s},
                     {"comm_time_s", a.comm_time_s},
                     {"exposed_comm_s", a.exposed_comm_s},
                     {"step_window_s", a.step_window_s}});
  j["ranks"] = std::move(ranks);

  json comm = json::array();
  for (const auto& c : comm_by_group_type(trace))
    comm.push_back({{"group", to_string(c.group)},
                    {"type", c.type},
                    {"count", c.count},
                    {"bytes", c.bytes},
                    {"time_s", c.time_s},
                    {"exposed_s", c.exposed_s}});
  j["comm"] = std::move(comm);
  j["losses"] = s.losses;

  if (options.include_timeline) {
    json ops = json::array();
    for (const auto& o : trace.ops)
      ops.push_back({{"rank", o.rank},
                     {"op", o.op},
                     {"stream", o.stream},
                     {"step", o.step},
                     {"start_ns", o.start_ns},
                     {"end_ns", o.end_ns}});
    j["ops"] = std::move(ops);
  }
  return j;
}

void write_json_report(const plan::Trace& trace, const ReportContext& context, std::ostream& out,
                       const RenderOptions& options) {
  out << report_json(trace, context, options).dump(2, ' ', false, json::error_handler_t::replace) << '\n';
}

}  // namespace clustersim::reports
