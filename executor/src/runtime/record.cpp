// Rank records: compact JSON for the run directory and the MPI gather, the measured-trace builder
// (spans, memory, summary with step time, losses, throughput, MFU, comm and exposure), and the
// run-directory reader that assembles a partial trace when a rank did not finish.
#include "clustersim/executor/record.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <limits>
#include <map>

#include "clustersim/plan/error.hpp"

namespace clustersim::executor {

using nlohmann::json;

namespace {

json role_map(const std::map<TensorRole, std::int64_t>& m) {
  json j = json::object();
  for (const auto& [role, bytes] : m)
    if (bytes != 0) j[std::string(to_string(role))] = bytes;
  return j;
}

std::map<TensorRole, std::int64_t> role_map_from(const json& j) {
  std::map<TensorRole, std::int64_t> m;
  for (auto it = j.begin(); it != j.end(); ++it)
    m[parse_enum<TensorRole>(it.key(), "role")] = it.value().get<std::int64_t>();
  return m;
}

double nan_to_null_safe(const json& j) {
  return j.is_null() ? std::numeric_limits<double>::quiet_NaN() : j.get<double>();
}

json number_or_null(double v) {
  return std::isfinite(v) ? json(v) : json(nullptr);
}

// Length of the union of [start, end) intervals.
struct Intervals {
  std::vector<std::pair<std::int64_t, std::int64_t>> v;
  void add(std::int64_t a, std::int64_t b) {
    if (b > a) v.emplace_back(a, b);
  }
  void merge() {
    std::sort(v.begin(), v.end());
    std::vector<std::pair<std::int64_t, std::int64_t>> out;
    for (const auto& iv : v) {
      if (!out.empty() && iv.first <= out.back().second)
        out.back().second = std::max(out.back().second, iv.second);
      else
        out.push_back(iv);
    }
    v.swap(out);
  }
  std::int64_t total() const {
    std::int64_t t = 0;
    for (const auto& [a, b] : v) t += b - a;
    return t;
  }
  // Length of [a, b) covered by the (merged) intervals.
  std::int64_t covered(std::int64_t a, std::int64_t b) const {
    std::int64_t t = 0;
    for (const auto& [x, y] : v) t += std::max<std::int64_t>(0, std::min(b, y) - std::max(a, x));
    return t;
  }
};

}  // namespace

json to_json(const StepRecord& s) {
  json ops = json::array(), comm = json::array(), mem = json::array();
  for (const auto& o : s.ops) ops.push_back({o.op, o.stream, o.start_ns, o.end_ns});
  for (const auto& c : s.comm)
    comm.push_back({std::string(to_string(c.group)), c.group_id, c.type, c.bytes, c.start_ns, c.end_ns});
  for (const auto& m : s.memory) mem.push_back({m.t_ns, m.bytes});
  return {{"step", s.step},
          {"warmup", s.warmup},
          {"begin_ns", s.begin_ns},
          {"end_ns", s.end_ns},
          {"loss_sum", s.loss_sum},
          {"loss_count", s.loss_count},
          {"mean_loss", number_or_null(s.mean_loss)},
          {"skipped", s.skipped},
          {"loss_scale", s.loss_scale},
          {"peak_bytes", s.peak_bytes},
          {"peak_time_ns", s.peak_time_ns},
          {"at_peak", role_map(s.at_peak)},
          {"role_peak", role_map(s.role_peak)},
          {"ops", ops},
          {"comm", comm},
          {"memory", mem}};
}

StepRecord step_record_from_json(const json& j) {
  StepRecord s;
  s.step = j.at("step").get<std::int32_t>();
  s.warmup = j.at("warmup").get<bool>();
  s.begin_ns = j.at("begin_ns").get<std::int64_t>();
  s.end_ns = j.at("end_ns").get<std::int64_t>();
  s.loss_sum = j.at("loss_sum").get<double>();
  s.loss_count = j.at("loss_count").get<std::int64_t>();
  s.mean_loss = nan_to_null_safe(j.at("mean_loss"));
  s.skipped = j.at("skipped").get<bool>();
  s.loss_scale = j.at("loss_scale").get<double>();
  s.peak_bytes = j.at("peak_bytes").get<std::int64_t>();
  s.peak_time_ns = j.at("peak_time_ns").get<std::int64_t>();
  s.at_peak = role_map_from(j.at("at_peak"));
  s.role_peak = role_map_from(j.at("role_peak"));
  for (const auto& o : j.at("ops"))
    s.ops.push_back({0, o[0].get<std::int32_t>(), o[1].get<std::int16_t>(), s.step, o[2].get<std::int64_t>(),
                     o[3].get<std::int64_t>()});
  for (const auto& c : j.at("comm"))
    s.comm.push_back({0, parse_enum<GroupKind>(c[0].get<std::string>(), "comm.group"), c[1].get<std::int32_t>(),
                      c[2].get<std::string>(), c[3].get<std::int64_t>(), s.step, c[4].get<std::int64_t>(),
                      c[5].get<std::int64_t>()});
  for (const auto& m : j.at("memory")) s.memory.push_back({m[0].get<std::int64_t>(), m[1].get<std::int64_t>()});
  return s;
}

json to_json(const RankRecord& r) {
  json steps = json::array();
  for (const auto& s : r.steps) steps.push_back(to_json(s));
  return {{"rank", r.rank},
          {"program", r.program},
          {"world_size", r.world_size},
          {"host", r.host},
          {"pid", r.pid},
          {"persistent_bytes", r.persistent_bytes},
          {"finished", r.finished},
          {"error", r.error},
          {"signal", r.signal},
          {"resident_bytes", r.resident_bytes},
          {"resident_peak_bytes", r.resident_peak_bytes},
          {"steps", steps}};
}

RankRecord rank_record_from_json(const json& j) {
  RankRecord r;
  r.rank = j.at("rank").get<std::int32_t>();
  r.program = j.at("program").get<std::int32_t>();
  r.world_size = j.at("world_size").get<std::int32_t>();
  r.host = j.at("host").get<std::string>();
  r.pid = j.at("pid").get<std::int64_t>();
  r.persistent_bytes = j.at("persistent_bytes").get<std::int64_t>();
  r.finished = j.at("finished").get<bool>();
  r.error = j.at("error").get<std::string>();
  r.signal = j.at("signal").get<std::int32_t>();
  r.resident_bytes = j.at("resident_bytes").get<std::int64_t>();
  r.resident_peak_bytes = j.at("resident_peak_bytes").get<std::int64_t>();
  for (const auto& s : j.at("steps")) {
    r.steps.push_back(step_record_from_json(s));
    for (auto& o : r.steps.back().ops) o.rank = r.rank;
    for (auto& c : r.steps.back().comm) c.rank = r.rank;
  }
  return r;
}

plan::Trace build_measured_trace(const plan::Plan& plan, const std::vector<RankRecord>& input,
                                 const TraceOptions& opt) {
  std::vector<const RankRecord*> records;
  for (const auto& r : input) records.push_back(&r);
  std::sort(records.begin(), records.end(), [](auto* a, auto* b) { return a->rank < b->rank; });
  plan::Trace tr;
  tr.source = plan::TraceSource::measured;
  tr.scenario = opt.scenario.empty() ? plan.meta.scenario : opt.scenario;
  tr.hardware = opt.hardware;
  tr.backend = opt.backend;
  for (std::size_t p = 0; p < plan.programs.size(); ++p)
    tr.programs.push_back(plan::describe_program(plan, static_cast<std::int32_t>(p)));

  std::size_t common = records.empty() ? 0 : std::numeric_limits<std::size_t>::max();
  for (auto* r : records) common = std::min(common, r->steps.size());
  std::vector<std::size_t> measured;
  for (std::size_t s = 0; s < common; ++s)
    if (!records.front()->steps[s].warmup) measured.push_back(s);
  if (measured.empty())
    for (std::size_t s = 0; s < common; ++s) measured.push_back(s);

  // per step: the slowest rank's duration; per rank: mean duration (for the critical rank)
  std::vector<double> step_ns(common, 0.0);
  std::size_t critical = 0;
  double critical_mean = -1.0;
  for (std::size_t ri = 0; ri < records.size(); ++ri) {
    const RankRecord& r = *records[ri];
    tr.ranks.push_back(r.rank);
    tr.program_of_rank.push_back(r.program);
    double sum = 0.0;
    for (std::size_t s : measured) {
      const double d = static_cast<double>(r.steps[s].end_ns - r.steps[s].begin_ns);
      step_ns[s] = std::max(step_ns[s], d);
      sum += d;
    }
    const double mean = measured.empty() ? 0.0 : sum / static_cast<double>(measured.size());
    if (mean > critical_mean) {
      critical_mean = mean;
      critical = ri;
    }
    // spans and memory of the measured steps
    plan::RankMemory mem;
    mem.rank = r.rank;
    mem.persistent_bytes = r.persistent_bytes;
    mem.capacity_bytes = opt.capacity_bytes;
    mem.measured_resident_bytes = r.resident_peak_bytes;
    bool timeline_done = false;
    for (std::size_t s : measured) {
      const StepRecord& st = r.steps[s];
      tr.ops.insert(tr.ops.end(), st.ops.begin(), st.ops.end());
      tr.comm.insert(tr.comm.end(), st.comm.begin(), st.comm.end());
      if (st.peak_bytes > mem.peak_bytes) {
        mem.peak_bytes = st.peak_bytes;
        mem.peak_time_ns = st.peak_time_ns;
        mem.at_peak = st.at_peak;
      }
      for (const auto& [role, bytes] : st.role_peak) mem.role_peak[role] = std::max(mem.role_peak[role], bytes);
      if (!timeline_done) {
        mem.timeline = st.memory;
        if (opt.timeline_max_samples > 0 && static_cast<std::int32_t>(mem.timeline.size()) > opt.timeline_max_samples)
          mem.timeline.resize(static_cast<std::size_t>(opt.timeline_max_samples));
        timeline_done = true;
      }
    }
    mem.fits = opt.capacity_bytes <= 0 || mem.peak_bytes <= opt.capacity_bytes;
    tr.memory.push_back(std::move(mem));
  }

  plan::Summary& sum = tr.summary;
  const double n_measured = static_cast<double>(std::max<std::size_t>(1, measured.size()));
  double total_step = 0.0;
  for (std::size_t s : measured) total_step += step_ns[s];
  sum.step_time_s = total_step / n_measured * 1e-9;
  sum.steps = static_cast<std::int64_t>(common);
  for (std::size_t s = 0; s < common && !records.empty(); ++s) {
    const StepRecord& st = records.front()->steps[s];
    sum.losses.push_back(st.mean_loss);
    if (st.skipped) ++sum.skipped_steps;
  }
  if (plan.meta.dynamic_loss_scale && common > 0) {
    const StepRecord& last = records.front()->steps[common - 1];
    sum.loss_scale = last.skipped ? last.loss_scale * plan.meta.loss_scale_backoff : last.loss_scale;
  }
  sum.model_flops_per_step = plan.meta.model_flops_per_step;
  if (sum.step_time_s > 0.0) {
    sum.tokens_per_s = static_cast<double>(plan.meta.tokens_per_step) / sum.step_time_s;
    sum.samples_per_s = static_cast<double>(plan.meta.global_batch) / sum.step_time_s;
    if (opt.peak_flops_per_rank > 0.0) {
      const double denom = sum.step_time_s * plan.world_size * opt.peak_flops_per_rank;
      sum.mfu = plan.meta.model_flops_per_step / denom;
      sum.hfu =
          (plan.meta.hardware_flops_per_step > 0 ? plan.meta.hardware_flops_per_step : plan.meta.model_flops_per_step) /
          denom;
    }
  }
  for (const auto& m : tr.memory) {
    if (m.peak_bytes > sum.peak_memory_bytes) sum.peak_memory_bytes = m.peak_bytes;
    sum.fits = sum.fits && m.fits;
  }
  sum.capacity_bytes = opt.capacity_bytes;

  // compute, communication and exposure on the critical rank
  if (!records.empty()) {
    const RankRecord& r = *records[critical];
    sum.critical_rank = r.rank;
    const plan::Program& prog = plan.programs.at(static_cast<std::size_t>(r.program));
    std::map<std::pair<GroupKind, std::string>, plan::CommSummary> by_type;
    double compute = 0.0, comm = 0.0, exposed = 0.0, bubble = 0.0;
    for (std::size_t s : measured) {
      const StepRecord& st = r.steps[s];
      Intervals busy;
      for (const auto& o : st.ops) {
        const auto& stream = prog.streams.at(static_cast<std::size_t>(o.stream));
        const plan::Op& op = prog.ops.at(static_cast<std::size_t>(o.op));
        const bool comm_op = op.kind == OpKind::collective || op.kind == OpKind::send || op.kind == OpKind::recv;
        if (stream.kind == StreamKind::compute && !comm_op) busy.add(o.start_ns, o.end_ns);
      }
      busy.merge();
      compute += static_cast<double>(busy.total());
      for (const auto& c : st.comm) {
        const double d = static_cast<double>(c.end_ns - c.start_ns);
        const double e = d - static_cast<double>(busy.covered(c.start_ns, c.end_ns));
        comm += d;
        exposed += e;
        auto& cs = by_type[{c.group, c.type}];
        cs.group = c.group;
        cs.type = c.type;
        cs.count += 1;
        cs.bytes += c.bytes;
        cs.time_s += d * 1e-9;
        cs.exposed_s += e * 1e-9;
      }
      const double len = static_cast<double>(st.end_ns - st.begin_ns);
      if (plan.meta.pp > 1 && len > 0) bubble += 1.0 - static_cast<double>(busy.total()) / len;
    }
    sum.compute_time_s = compute / n_measured * 1e-9;
    sum.comm_time_s = comm / n_measured * 1e-9;
    sum.exposed_comm_s = exposed / n_measured * 1e-9;
    sum.bubble_fraction = bubble / n_measured;
    for (auto& [key, cs] : by_type) {
      cs.count = static_cast<std::int64_t>(std::llround(static_cast<double>(cs.count) / n_measured));
      cs.bytes = static_cast<std::int64_t>(std::llround(static_cast<double>(cs.bytes) / n_measured));
      cs.time_s /= n_measured;
      cs.exposed_s /= n_measured;
      sum.comm.push_back(cs);
    }
    std::int64_t first = std::numeric_limits<std::int64_t>::max(), last = 0;
    for (auto* rr : records)
      for (std::size_t s = 0; s < common; ++s) {
        first = std::min(first, rr->steps[s].begin_ns);
        last = std::max(last, rr->steps[s].end_ns);
      }
    sum.wall_time_s = common > 0 ? static_cast<double>(last - first) * 1e-9 : 0.0;
  }

  tr.extra = opt.extra.is_object() ? opt.extra : json::object();
  json resident = json::array();
  for (auto* r : records)
    resident.push_back({{"rank", r->rank},
                        {"host", r->host},
                        {"resident_bytes", r->resident_bytes},
                        {"resident_peak_bytes", r->resident_peak_bytes}});
  tr.extra["resident_memory"] = resident;
  tr.extra["measured_steps"] = measured.size();
  return tr;
}

std::string rank_record_path(const std::string& run_dir, std::int32_t rank) {
  char name[32];
  std::snprintf(name, sizeof name, "rank-%05d.jsonl", rank);
  return (std::filesystem::path(run_dir) / name).string();
}

RunDirResult assemble_trace_from_run_dir(const plan::Plan& plan, const std::string& run_dir, const TraceOptions& opt) {
  if (!std::filesystem::is_directory(run_dir))
    throw InputError("run_dir", "\"" + run_dir + "\"", "an existing run directory");
  RunDirResult out;
  std::vector<RankRecord> records;
  std::vector<std::string> problems;
  for (std::int32_t rank = 0; rank < plan.world_size; ++rank) {
    RankRecord r;
    r.rank = rank;
    r.world_size = plan.world_size;
    r.program = plan.program_of_rank.at(static_cast<std::size_t>(rank));
    bool began = false;
    std::ifstream in(rank_record_path(run_dir, rank));
    std::string line;
    while (std::getline(in, line)) {
      if (line.empty()) continue;
      json j;
      try {
        j = json::parse(line);
        const std::string type = j.at("type").get<std::string>();
        if (type == "begin") {
          began = true;
          r.host = j.value("host", "");
          r.pid = j.value("pid", std::int64_t{0});
          r.program = j.value("program", r.program);
        } else if (type == "step") {
          StepRecord s = step_record_from_json(j);
          for (auto& o : s.ops) o.rank = rank;
          for (auto& c : s.comm) c.rank = rank;
          r.steps.push_back(std::move(s));
        } else if (type == "error") {
          r.error = j.at("message").get<std::string>();
        } else if (type == "signal") {
          r.signal = j.at("signal").get<std::int32_t>();
        } else if (type == "end") {
          r.finished = true;
          r.resident_bytes = j.value("resident_bytes", std::int64_t{0});
          r.resident_peak_bytes = j.value("resident_peak_bytes", std::int64_t{0});
          r.persistent_bytes = j.value("persistent_bytes", std::int64_t{0});
        }
      } catch (const std::exception&) {
        continue;  // a line cut short by a kill
      }
    }
    const std::string after =
        r.steps.empty() ? "before finishing any step" : "after step " + std::to_string(r.steps.back().step);
    if (!began) {
      out.failed_ranks.push_back(rank);
      problems.push_back("rank " + std::to_string(rank) + " left no record (it never started, or " + run_dir +
                         " is not its run directory)");
    } else if (!r.finished) {
      out.failed_ranks.push_back(rank);
      std::string why;
      if (!r.error.empty())
        why = "failed with an error: " + r.error;
      else if (r.signal == 15 || r.signal == 2)
        why = "was terminated (signal " + std::to_string(r.signal) + "), after a failure elsewhere or by the user";
      else if (r.signal != 0)
        why = "crashed (signal " + std::to_string(r.signal) + ")";
      else
        why = "was killed or lost (no error record: e.g. SIGKILL, out of memory, node failure)";
      problems.push_back("rank " + std::to_string(rank) + " stopped " + after + " and " + why);
    }
    records.push_back(std::move(r));
  }
  out.complete = out.failed_ranks.empty();
  // Blame first the ranks that did not end on a termination signal sent because of another rank.
  if (!out.complete) {
    std::vector<std::string> primary, secondary;
    for (const auto& p : problems) (p.find("was terminated") != std::string::npos ? secondary : primary).push_back(p);
    std::string msg = "the run did not finish: ";
    bool first = true;
    for (const auto* list : {&primary, &secondary})
      for (const auto& p : *list) {
        msg += (first ? "" : "; ") + p;
        first = false;
      }
    out.message = msg;
  }
  TraceOptions o = opt;
  if (!o.extra.is_object()) o.extra = json::object();
  out.trace = build_measured_trace(plan, records, o);
  out.steps = static_cast<std::int32_t>(out.trace.summary.steps);
  out.trace.extra["partial"] = !out.complete;
  out.trace.extra["failed_ranks"] = out.failed_ranks;
  if (!out.complete) out.trace.extra["failure"] = out.message;
  return out;
}

}  // namespace clustersim::executor
