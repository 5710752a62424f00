// Metrics derived from a Trace (per-rank activity, step windows, communication table, memory
// peak rank), shared by the renderers and the comparison. Conventions are in analysis.hpp.
#include "clustersim/reports/analysis.hpp"

#include <algorithm>
#include <cmath>
#include <set>
#include <tuple>

#include "clustersim/plan/error.hpp"
#include "trace_index.hpp"

namespace clustersim::reports {

using detail::covered_length;
using detail::merge_intervals;
using detail::TraceIndex;

std::int64_t union_length(std::vector<Interval>& intervals) {
  std::sort(intervals.begin(), intervals.end(),
            [](const Interval& a, const Interval& b) { return a.start_ns < b.start_ns; });
  std::int64_t total = 0;
  std::int64_t cur_start = 0, cur_end = 0;
  bool open = false;
  for (const Interval& i : intervals) {
    if (i.end_ns <= i.start_ns) continue;
    if (open && i.start_ns <= cur_end) {
      cur_end = std::max(cur_end, i.end_ns);
      continue;
    }
    if (open) total += cur_end - cur_start;
    cur_start = i.start_ns;
    cur_end = i.end_ns;
    open = true;
  }
  if (open) total += cur_end - cur_start;
  return total;
}

std::int16_t compute_stream(const plan::ProgramInfo& program) {
  for (std::size_t i = 0; i < program.streams.size(); ++i)
    if (program.streams[i] == "compute") return static_cast<std::int16_t>(i);
  for (std::size_t i = 0; i < program.streams.size(); ++i)
    if (program.streams[i].rfind("compute", 0) == 0) return static_cast<std::int16_t>(i);
  return 0;
}

bool is_comm_class(std::string_view op_class) {
  return op_class.rfind("comm:", 0) == 0 || op_class.rfind("p2p:", 0) == 0 || op_class == "p2p";
}

std::optional<GroupKind> comm_group_of_class(std::string_view op_class) {
  std::string_view rest;
  if (op_class.rfind("comm:", 0) == 0)
    rest = op_class.substr(5);
  else if (op_class.rfind("p2p:", 0) == 0)
    rest = op_class.substr(4);
  else
    return std::nullopt;
  const std::string_view group = rest.substr(0, rest.find(':'));
  const auto& names = EnumNames<GroupKind>::names;
  for (std::size_t i = 0; i < names.size(); ++i)
    if (names[i] == group) return static_cast<GroupKind>(i);
  return std::nullopt;
}

const plan::ProgramInfo& program_of_rank(const plan::Trace& trace, std::int32_t rank) {
  const auto it = std::find(trace.ranks.begin(), trace.ranks.end(), rank);
  if (it == trace.ranks.end()) throw InputError("ranks", std::to_string(rank), "a recorded rank");
  const auto slot = static_cast<std::size_t>(it - trace.ranks.begin());
  if (slot >= trace.program_of_rank.size())
    throw InputError("program_of_rank", std::to_string(trace.program_of_rank.size()) + " entries",
                     "one program per recorded rank");
  const std::int32_t program = trace.program_of_rank[slot];
  for (const auto& p : trace.programs)
    if (p.program == program) return p;
  throw InputError("program_of_rank[" + std::to_string(slot) + "]", std::to_string(program),
                   "a program described in programs");
}

std::vector<std::int32_t> trace_steps(const plan::Trace& trace) {
  std::set<std::int32_t> steps;
  for (const auto& s : trace.ops) steps.insert(s.step);
  return {steps.begin(), steps.end()};
}

std::vector<StepWindow> step_windows(const plan::Trace& trace) {
  std::map<std::int32_t, StepWindow> windows;
  for (const auto& s : trace.ops) {
    auto [it, inserted] = windows.try_emplace(s.step, StepWindow{s.step, s.start_ns, s.end_ns});
    if (!inserted) {
      it->second.start_ns = std::min(it->second.start_ns, s.start_ns);
      it->second.end_ns = std::max(it->second.end_ns, s.end_ns);
    }
  }
  std::vector<StepWindow> out;
  out.reserve(windows.size());
  for (const auto& [step, w] : windows) out.push_back(w);
  return out;
}

namespace {

// Op spans of one slot split by step, with the merged compute-busy intervals of each step.
struct SlotSteps {
  std::map<std::int32_t, std::vector<std::size_t>> spans;  // step -> indices into Trace::ops
  std::map<std::int32_t, std::vector<Interval>> busy;      // step -> merged compute intervals
};

SlotSteps split_by_step(const TraceIndex& index, std::size_t slot, const std::set<std::int32_t>& steps) {
  SlotSteps out;
  const auto& ops = index.trace().ops;
  std::map<std::int32_t, std::vector<Interval>> compute;
  for (std::size_t i : index.spans(slot)) {
    const plan::OpSpan& span = ops[i];
    if (!steps.count(span.step)) continue;
    out.spans[span.step].push_back(i);
    const plan::OpInfo& op = index.op_of(span);
    if (span.stream == index.compute_stream(slot) && !is_comm_class(op.op_class))
      compute[span.step].push_back({span.start_ns, span.end_ns});
  }
  for (auto& [step, intervals] : compute) out.busy[step] = merge_intervals(std::move(intervals));
  return out;
}

const std::vector<Interval>& busy_of(const SlotSteps& s, std::int32_t step) {
  static const std::vector<Interval> none;
  const auto it = s.busy.find(step);
  return it == s.busy.end() ? none : it->second;
}

std::int64_t busy_length(const std::vector<Interval>& merged) {
  std::int64_t total = 0;
  for (const auto& i : merged) total += i.end_ns - i.start_ns;
  return total;
}

}  // namespace

std::vector<RankActivity> rank_activity(const plan::Trace& trace, const std::vector<std::int32_t>& steps) {
  const TraceIndex index(trace, "trace");
  std::map<std::int32_t, StepWindow> windows;
  for (const auto& w : step_windows(trace)) windows.emplace(w.step, w);
  std::set<std::int32_t> considered;
  if (steps.empty()) {
    for (const auto& [step, w] : windows) considered.insert(step);
  } else {
    for (std::int32_t s : steps)
      if (windows.count(s)) considered.insert(s);
  }
  const double n_steps = considered.empty() ? 1.0 : static_cast<double>(considered.size());
  double window_total_ns = 0.0;
  for (std::int32_t s : considered)
    window_total_ns += static_cast<double>(windows.at(s).end_ns - windows.at(s).start_ns);

  std::vector<RankActivity> out;
  out.reserve(index.slots());
  for (std::size_t slot = 0; slot < index.slots(); ++slot) {
    RankActivity a;
    a.rank = index.rank(slot);
    a.program = trace.program_of_rank[slot];
    if (const auto* p = index.program(slot)) a.program_name = p->name;
    a.steps = static_cast<std::int64_t>(considered.size());
    a.step_window_s = window_total_ns / n_steps * 1e-9;
    const SlotSteps split = split_by_step(index, slot, considered);
    double busy_ns = 0.0, comm_ns = 0.0, exposed_ns = 0.0;
    for (const auto& [step, span_ids] : split.spans) {
      const auto& busy = busy_of(split, step);
      busy_ns += static_cast<double>(busy_length(busy));
      for (std::size_t i : span_ids) {
        const plan::OpSpan& span = trace.ops[i];
        const plan::OpInfo& op = index.op_of(span);
        const auto dur = static_cast<double>(span.end_ns - span.start_ns);
        a.class_time_s[op.op_class] += dur * 1e-9 / n_steps;
        ++a.op_spans;
        if (!is_comm_class(op.op_class)) continue;
        comm_ns += dur;
        exposed_ns += dur - static_cast<double>(covered_length(busy, span.start_ns, span.end_ns));
        const auto group = comm_group_of_class(op.op_class);
        a.comm_group_time_s[group ? std::string(to_string(*group)) : std::string("other")] += dur * 1e-9 / n_steps;
      }
    }
    a.compute_busy_s = busy_ns / n_steps * 1e-9;
    a.idle_s = std::max(0.0, a.step_window_s - a.compute_busy_s);
    a.comm_time_s = comm_ns / n_steps * 1e-9;
    a.exposed_comm_s = exposed_ns / n_steps * 1e-9;
    out.push_back(std::move(a));
  }
  return out;
}

std::vector<plan::CommSummary> comm_by_group_type(const plan::Trace& trace) {
  if (!trace.summary.comm.empty()) return trace.summary.comm;
  if (trace.ranks.empty() || trace.ops.empty()) return {};
  const TraceIndex index(trace, "trace");
  std::ptrdiff_t slot = index.slot_of(trace.summary.critical_rank);
  if (slot < 0) slot = 0;
  const std::vector<std::int32_t> all = trace_steps(trace);
  const std::set<std::int32_t> steps(all.begin(), all.end());
  const double n_steps = steps.empty() ? 1.0 : static_cast<double>(steps.size());
  const SlotSteps split = split_by_step(index, static_cast<std::size_t>(slot), steps);

  struct Acc {
    std::int64_t count = 0, bytes = 0;
    double time_ns = 0.0, exposed_ns = 0.0;
  };
  std::map<std::pair<GroupKind, std::string>, Acc> acc;
  for (const auto& [step, span_ids] : split.spans) {
    const auto& busy = busy_of(split, step);
    for (std::size_t i : span_ids) {
      const plan::OpSpan& span = trace.ops[i];
      const plan::OpInfo& op = index.op_of(span);
      if (!is_comm_class(op.op_class)) continue;
      const GroupKind group = comm_group_of_class(op.op_class).value_or(GroupKind::world);
      std::string type;
      if (op.op_class.rfind("comm:", 0) == 0) {
        const auto colon = op.op_class.rfind(':');
        type = op.op_class.substr(colon + 1);
      } else {
        type = std::string(to_string(op.kind));
      }
      Acc& a = acc[{group, type}];
      const auto dur = static_cast<double>(span.end_ns - span.start_ns);
      a.count += 1;
      a.bytes += op.bytes;
      a.time_ns += dur;
      a.exposed_ns += dur - static_cast<double>(covered_length(busy, span.start_ns, span.end_ns));
    }
  }
  std::vector<plan::CommSummary> out;
  for (const auto& [key, a] : acc) {
    plan::CommSummary c;
    c.group = key.first;
    c.type = key.second;
    c.count = std::llround(static_cast<double>(a.count) / n_steps);
    c.bytes = std::llround(static_cast<double>(a.bytes) / n_steps);
    c.time_s = a.time_ns / n_steps * 1e-9;
    c.exposed_s = a.exposed_ns / n_steps * 1e-9;
    out.push_back(std::move(c));
  }
  return out;
}

const plan::RankMemory* peak_memory_rank(const plan::Trace& trace) {
  const plan::RankMemory* best = nullptr;
  for (const auto& m : trace.memory)
    if (best == nullptr || m.peak_bytes > best->peak_bytes) best = &m;
  return best;
}

const std::vector<TensorRole>& main_memory_roles() {
  static const std::vector<TensorRole> roles{
      TensorRole::weight,     TensorRole::master_weight,   TensorRole::grad,      TensorRole::optimizer_state,
      TensorRole::activation, TensorRole::activation_grad, TensorRole::workspace, TensorRole::comm_buffer};
  return roles;
}

std::string role_label(TensorRole role) {
  switch (role) {
    case TensorRole::weight:
      return "weights";
    case TensorRole::master_weight:
      return "master weights";
    case TensorRole::grad:
      return "grads";
    case TensorRole::optimizer_state:
      return "optimizer states";
    case TensorRole::activation:
      return "activations";
    case TensorRole::activation_grad:
      return "activation grads";
    case TensorRole::workspace:
      return "workspace";
    case TensorRole::comm_buffer:
      return "comm buffers";
    case TensorRole::input:
      return "inputs";
    case TensorRole::teacher_weight:
      return "teacher weights";
    case TensorRole::client_update:
      return "client updates";
  }
  return std::string(to_string(role));
}

}  // namespace clustersim::reports
