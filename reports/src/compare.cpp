// Predicted vs measured comparison (method in compare.hpp): rank mapping, step selection, per-class,
// per-group, memory and op-by-op errors, and the pass/fail checks.
#include "clustersim/reports/compare.hpp"

#include <algorithm>
#include <cmath>
#include <map>
#include <numeric>
#include <set>
#include <tuple>

#include "clustersim/plan/error.hpp"
#include "clustersim/reports/analysis.hpp"
#include "trace_index.hpp"

namespace clustersim::reports {

using detail::TraceIndex;

double relative_error(double predicted, double measured) {
  if (measured == 0.0) return predicted == 0.0 ? 0.0 : std::numeric_limits<double>::infinity();
  return (predicted - measured) / measured;
}

namespace {

const plan::ProgramInfo* find_program(const plan::Trace& trace, std::int32_t id) {
  for (const auto& p : trace.programs)
    if (p.program == id) return &p;
  return nullptr;
}

// Display order of op classes: compute kinds first, then communication, then the rest.
int class_rank(const std::string& c) {
  static const std::vector<std::string> order{"gemm", "attention", "conv", "memory", "optimizer"};
  const auto it = std::find(order.begin(), order.end(), c);
  if (it != order.end()) return static_cast<int>(it - order.begin());
  if (c.rfind("comm:", 0) == 0) return 10;
  if (c.rfind("p2p", 0) == 0) return 11;
  if (c == "io") return 12;
  if (c == "delay") return 13;
  return 14;
}

// Mean duration per occurrence of each op of one slot over the steps considered.
std::map<std::int32_t, std::pair<double, std::int64_t>> op_durations(const TraceIndex& index, std::size_t slot,
                                                                     const std::set<std::int32_t>& steps) {
  std::map<std::int32_t, std::pair<double, std::int64_t>> sums;  // op -> (sum ns, count)
  for (std::size_t i : index.spans(slot)) {
    const plan::OpSpan& s = index.trace().ops[i];
    if (!steps.count(s.step)) continue;
    auto& [sum, count] = sums[s.op];
    sum += static_cast<double>(s.end_ns - s.start_ns);
    ++count;
  }
  return sums;
}

void check_same_plan(const plan::Trace& predicted, const plan::Trace& measured) {
  if (predicted.scenario != measured.scenario)
    throw InputError("measured.scenario", "\"" + measured.scenario + "\"",
                     "\"" + predicted.scenario + "\" (the scenario of the predicted trace)");
  for (std::size_t i = 0; i < measured.programs.size(); ++i) {
    const plan::ProgramInfo& m = measured.programs[i];
    const plan::ProgramInfo* p = find_program(predicted, m.program);
    if (p == nullptr) continue;  // checked when a measured rank needs it
    const std::string path = "measured.programs[" + std::to_string(i) + "]";
    const auto describe = [](const plan::ProgramInfo& x) {
      return "program " + std::to_string(x.program) + " (" + x.name + ") with " + std::to_string(x.ops.size()) + " ops";
    };
    if (p->ops.size() != m.ops.size())
      throw InputError(path, describe(m), "the same plan as the predicted trace: " + describe(*p));
    for (std::size_t o = 0; o < m.ops.size(); ++o)
      if (m.ops[o].name != p->ops[o].name || m.ops[o].op_class != p->ops[o].op_class)
        throw InputError(path + ".ops[" + std::to_string(o) + "]",
                         "\"" + m.ops[o].name + "\" (" + m.ops[o].op_class + ")",
                         "\"" + p->ops[o].name + "\" (" + p->ops[o].op_class + "), as in the predicted trace");
  }
}

Check make_check(std::string name, std::string unit, double predicted, double measured, double tolerance) {
  Check c;
  c.name = std::move(name);
  c.unit = std::move(unit);
  c.predicted = predicted;
  c.measured = measured;
  c.error = relative_error(predicted, measured);
  c.tolerance = tolerance;
  c.passed = std::isfinite(c.error) && std::fabs(c.error) <= tolerance;
  return c;
}


// Communication split into transfer and wait (see compare.hpp). Matches the communication spans of
// one operation across the ranks that take part: the k-th collective (in start order) of a rank on
// group id G in a step matches the k-th of every other member; on a two-member group the k-th send
// a->b matches the k-th recv on b (larger p2p groups are not matched: their spans count as
// transfers). The transfer of each span is its end minus the latest start among the matched spans.
// Returns transfer ns per (rank, group kind name, step). A trace without comm spans falls back to
// the communication op spans, whole.
using RankGroupStep = std::tuple<std::int32_t, std::string, std::int32_t>;
std::map<RankGroupStep, double> comm_transfer_ns(const plan::Trace& trace) {
  std::map<RankGroupStep, double> out;
  if (trace.comm.empty()) {
    const TraceIndex index(trace, "trace");
    for (const auto& span : trace.ops) {
      const plan::OpInfo& op = index.op_of(span);
      if (!is_comm_class(op.op_class)) continue;
      const auto group = comm_group_of_class(op.op_class);
      out[{span.rank, group ? std::string(to_string(*group)) : std::string("other"), span.step}] +=
          static_cast<double>(span.end_ns - span.start_ns);
    }
    return out;
  }
  std::map<std::int32_t, std::set<std::int32_t>> members;  // group id -> ranks seen
  for (const auto& c : trace.comm) members[c.group_id].insert(c.rank);
  std::vector<std::size_t> order(trace.comm.size());
  for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
    const plan::CommSpan &x = trace.comm[a], &y = trace.comm[b];
    return std::tie(x.rank, x.step, x.group_id, x.start_ns) < std::tie(y.rank, y.step, y.group_id, y.start_ns);
  });
  // (group id, step, from, to, k) -> matched spans; from = to = -1 for collectives.
  using MatchKey = std::tuple<std::int32_t, std::int32_t, std::int32_t, std::int32_t, std::int64_t>;
  std::map<MatchKey, std::vector<std::size_t>> matches;
  std::map<std::tuple<std::int32_t, std::int32_t, std::int32_t, std::int32_t, std::int32_t>, std::int64_t> seen;
  for (std::size_t i : order) {
    const plan::CommSpan& c = trace.comm[i];
    std::int32_t from = -1, to = -1;
    if (c.type == "send" || c.type == "recv") {
      const std::set<std::int32_t>& m = members[c.group_id];
      if (m.size() != 2) {  // unmatched: a key of its own
        matches[{c.group_id, c.step, -2, -2, -1 - static_cast<std::int64_t>(i)}].push_back(i);
        continue;
      }
      const std::int32_t other = *m.begin() == c.rank ? *m.rbegin() : *m.begin();
      from = c.type == "send" ? c.rank : other;
      to = c.type == "send" ? other : c.rank;
    }
    const std::int64_t k = seen[{c.rank, c.group_id, c.step, from, to}]++;
    matches[{c.group_id, c.step, from, to, k}].push_back(i);
  }
  for (const auto& [key, spans] : matches) {
    std::int64_t last = std::numeric_limits<std::int64_t>::min();
    for (std::size_t i : spans) last = std::max(last, trace.comm[i].start_ns);
    for (std::size_t i : spans) {
      const plan::CommSpan& c = trace.comm[i];
      out[{c.rank, std::string(to_string(c.group)), c.step}] +=
          static_cast<double>(std::max<std::int64_t>(0, c.end_ns - std::max(last, c.start_ns)));
    }
  }
  return out;
}

double median(std::vector<double> v) {
  if (v.empty()) return 0.0;
  std::sort(v.begin(), v.end());
  const std::size_t n = v.size();
  return n % 2 == 1 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

}  // namespace

Comparison compare(const plan::Trace& predicted, const plan::Trace& measured, const CompareOptions& options) {
  check_same_plan(predicted, measured);
  const TraceIndex pred(predicted, "predicted");
  const TraceIndex meas(measured, "measured");
  if (predicted.ops.empty()) throw InputError("predicted.ops", "no op spans", "a trace with op spans");
  if (measured.ops.empty()) throw InputError("measured.ops", "no op spans", "a trace with op spans");
  if (options.warmup_steps < 0) throw InputError("warmup_steps", std::to_string(options.warmup_steps), "0 or more");

  Comparison c;
  c.scenario = measured.scenario;
  c.hardware = measured.hardware.empty() ? predicted.hardware : measured.hardware;
  c.predicted_backend = predicted.backend;
  c.measured_backend = measured.backend;
  c.options = options;

  // Steps.
  const std::vector<std::int32_t> all_steps = trace_steps(measured);
  if (all_steps.size() <= static_cast<std::size_t>(options.warmup_steps))
    throw InputError("measured.ops", std::to_string(all_steps.size()) + " step(s)",
                     "more steps than the " + std::to_string(options.warmup_steps) +
                         " warm-up step(s) to skip (measure more steps or lower the warm-up)");
  c.steps_skipped = options.warmup_steps;
  c.steps_used.assign(all_steps.begin() + options.warmup_steps, all_steps.end());
  const std::set<std::int32_t> used(c.steps_used.begin(), c.steps_used.end());
  const std::vector<std::int32_t> pred_steps_v = trace_steps(predicted);
  const std::set<std::int32_t> pred_steps(pred_steps_v.begin(), pred_steps_v.end());

  // The predicted counterpart of a measured slot: the same rank running the same program, else the
  // first predicted rank running that program; -1 when there is none.
  const auto counterpart = [&](std::size_t slot) -> std::ptrdiff_t {
    const std::int32_t program = measured.program_of_rank[slot];
    const std::ptrdiff_t same = pred.slot_of(meas.rank(slot));
    if (same >= 0 && predicted.program_of_rank[static_cast<std::size_t>(same)] == program) return same;
    for (std::size_t s = 0; s < pred.slots(); ++s)
      if (predicted.program_of_rank[s] == program) return static_cast<std::ptrdiff_t>(s);
    return -1;
  };

  // Measured ranks with spans in the steps used, mapped to predicted ranks.
  std::vector<std::size_t> active;  // measured slots
  std::vector<std::size_t> mapped;  // predicted slot of each active measured slot
  for (std::size_t slot = 0; slot < meas.slots(); ++slot) {
    const bool has_spans = std::any_of(meas.spans(slot).begin(), meas.spans(slot).end(),
                                       [&](std::size_t i) { return used.count(measured.ops[i].step) > 0; });
    if (!has_spans) continue;
    const std::int32_t rank = meas.rank(slot);
    const std::int32_t program = measured.program_of_rank[slot];
    const std::ptrdiff_t q = counterpart(slot);
    if (q < 0) {
      const plan::ProgramInfo* p = meas.program(slot);
      throw InputError("measured.program_of_rank[" + std::to_string(slot) + "]",
                       "program " + std::to_string(program) + (p ? " (" + p->name + ")" : std::string()) + " of rank " +
                           std::to_string(rank),
                       "a program the predicted trace records a rank for");
    }
    if (find_program(predicted, program) == nullptr)
      throw InputError("predicted.programs", "no program " + std::to_string(program),
                       "the programs of the measured trace");
    active.push_back(slot);
    mapped.push_back(static_cast<std::size_t>(q));
    c.rank_map.emplace_back(rank, pred.rank(static_cast<std::size_t>(q)));
  }
  const double n_active = static_cast<double>(active.size());

  const std::vector<RankActivity> meas_activity = rank_activity(measured, c.steps_used);
  const std::vector<RankActivity> pred_activity = rank_activity(predicted, pred_steps_v);

  // Step time: the median step window.
  const auto median_window = [](const plan::Trace& t, const std::set<std::int32_t>& steps) {
    std::vector<double> lengths;
    for (const auto& w : step_windows(t))
      if (steps.count(w.step)) lengths.push_back(w.length_s());
    return median(std::move(lengths));
  };
  c.step_time.name = "step time";
  c.step_time.measured = median_window(measured, used);
  c.step_time.predicted = pred_steps.empty() ? predicted.summary.step_time_s : median_window(predicted, pred_steps);
  c.step_time.error = relative_error(c.step_time.predicted, c.step_time.measured);

  // Mean over active measured ranks of a per-rank quantity, and of its predicted counterpart.
  const auto mean_pair = [&](const auto& value) {
    double p = 0.0, m = 0.0;
    for (std::size_t i = 0; i < active.size(); ++i) {
      m += value(meas_activity[active[i]]);
      p += value(pred_activity[mapped[i]]);
    }
    return std::pair<double, double>{p / n_active, m / n_active};
  };
  const auto metric = [](std::string name, std::pair<double, double> pm) {
    return MetricComparison{std::move(name), pm.first, pm.second, relative_error(pm.first, pm.second)};
  };
  const auto lookup = [](const std::map<std::string, double>& m, const std::string& key) {
    const auto it = m.find(key);
    return it == m.end() ? 0.0 : it->second;
  };

  // Per op class, then idle.
  std::set<std::string> classes;
  for (std::size_t i = 0; i < active.size(); ++i) {
    for (const auto& [k, v] : meas_activity[active[i]].class_time_s) classes.insert(k);
    for (const auto& [k, v] : pred_activity[mapped[i]].class_time_s) classes.insert(k);
  }
  std::vector<std::string> ordered(classes.begin(), classes.end());
  std::stable_sort(ordered.begin(), ordered.end(),
                   [](const std::string& a, const std::string& b) { return class_rank(a) < class_rank(b); });
  for (const auto& k : ordered)
    c.classes.push_back(metric(k, mean_pair([&](const RankActivity& a) { return lookup(a.class_time_s, k); })));
  c.classes.push_back(metric("idle", mean_pair([](const RankActivity& a) { return a.idle_s; })));

  // Communication per group kind: the median over steps of a rank's transfer time, and the mean
  // wait for peers (communication op time minus transfer), each averaged over the ranks.
  std::set<std::string> groups;
  for (std::size_t i = 0; i < active.size(); ++i) {
    for (const auto& [k, v] : meas_activity[active[i]].comm_group_time_s) groups.insert(k);
    for (const auto& [k, v] : pred_activity[mapped[i]].comm_group_time_s) groups.insert(k);
  }
  const std::map<RankGroupStep, double> meas_transfer = comm_transfer_ns(measured);
  const std::map<RankGroupStep, double> pred_transfer = comm_transfer_ns(predicted);
  // A prediction with rank noise may hold the communication of every noise sample as a step of its
  // own (engine::SimulationOptions::keep_noise_comm): its transfer is their median, as a run's is
  // the median over its steps; the wait stays the ops' step's. A sample whose ranks ran alike was
  // simulated on representatives: a rank without spans in a step is not counted there.
  std::map<std::int32_t, std::set<std::int32_t>> pred_comm_steps;
  for (const auto& s : predicted.comm) pred_comm_steps[s.rank].insert(s.step);
  const auto pred_steps_of = [&](std::int32_t rank) {
    std::set<std::int32_t> steps = pred_steps;
    if (const auto it = pred_comm_steps.find(rank); it != pred_comm_steps.end())
      steps.insert(it->second.begin(), it->second.end());
    return steps;
  };
  const auto transfer_of = [](const std::map<RankGroupStep, double>& transfer, std::int32_t rank,
                              const std::string& group, const std::set<std::int32_t>& steps, bool use_median) {
    std::vector<double> per_step;
    for (std::int32_t s : steps) {
      const auto it = transfer.find({rank, group, s});
      per_step.push_back(it == transfer.end() ? 0.0 : it->second * 1e-9);
    }
    if (use_median) return median(std::move(per_step));
    return per_step.empty() ? 0.0 : std::accumulate(per_step.begin(), per_step.end(), 0.0) / per_step.size();
  };
  std::vector<std::string> group_names;
  for (std::size_t g = 0; g < enum_count<GroupKind>(); ++g)
    if (groups.count(std::string(EnumNames<GroupKind>::names[g])))
      group_names.emplace_back(EnumNames<GroupKind>::names[g]);
  if (groups.count("other")) group_names.emplace_back("other");
  for (const std::string& name : group_names) {
    double p = 0.0, m = 0.0, pw = 0.0, mw = 0.0;
    for (std::size_t i = 0; i < active.size(); ++i) {
      const std::int32_t mr = meas.rank(active[i]), pr = pred.rank(mapped[i]);
      m += transfer_of(meas_transfer, mr, name, used, true);
      p += transfer_of(pred_transfer, pr, name, pred_steps_of(pr), true);
      mw += std::max(0.0, lookup(meas_activity[active[i]].comm_group_time_s, name) -
                              transfer_of(meas_transfer, mr, name, used, false));
      pw += std::max(0.0, lookup(pred_activity[mapped[i]].comm_group_time_s, name) -
                              transfer_of(pred_transfer, pr, name, pred_steps, false));
    }
    c.comm_groups.push_back(metric(name, {p / n_active, m / n_active}));
    c.comm_waits.push_back(metric(name, {pw / n_active, mw / n_active}));
  }

  // Peak memory per measured rank with a record.
  std::map<std::int32_t, std::int32_t> rank_to_pred(c.rank_map.begin(), c.rank_map.end());
  for (std::size_t slot = 0; slot < meas.slots(); ++slot) {
    // Recorded but idle in the steps used: mapped the same way when the prediction has the program.
    const std::ptrdiff_t q = counterpart(slot);
    if (q >= 0) rank_to_pred.emplace(meas.rank(slot), pred.rank(static_cast<std::size_t>(q)));
  }
  for (const auto& m : measured.memory) {
    const auto it = rank_to_pred.find(m.rank);
    if (it == rank_to_pred.end()) continue;
    const auto p = std::find_if(predicted.memory.begin(), predicted.memory.end(),
                                [&](const plan::RankMemory& x) { return x.rank == it->second; });
    if (p == predicted.memory.end()) continue;
    c.memory.push_back({m.rank, it->second, p->peak_bytes, m.peak_bytes,
                        relative_error(static_cast<double>(p->peak_bytes), static_cast<double>(m.peak_bytes))});
  }

  // Op by op.
  if (options.op_by_op) {
    std::vector<std::map<std::int32_t, std::pair<double, std::int64_t>>> meas_ops(active.size()),
        pred_ops(active.size());
    std::map<std::size_t, std::map<std::int32_t, std::pair<double, std::int64_t>>> pred_cache;
    for (std::size_t i = 0; i < active.size(); ++i) {
      meas_ops[i] = op_durations(meas, active[i], used);
      auto [it, inserted] = pred_cache.try_emplace(mapped[i]);
      if (inserted) it->second = op_durations(pred, mapped[i], pred_steps);
      pred_ops[i] = it->second;
    }
    std::set<std::int32_t> programs;
    for (std::size_t slot : active) programs.insert(measured.program_of_rank[slot]);
    for (std::int32_t program : programs) {
      const plan::ProgramInfo* info = find_program(predicted, program);
      for (std::size_t op = 0; op < info->ops.size(); ++op) {
        const auto id = static_cast<std::int32_t>(op);
        double m_sum = 0.0, p_sum = 0.0;
        std::int64_t m_n = 0, p_n = 0;
        for (std::size_t i = 0; i < active.size(); ++i) {
          if (measured.program_of_rank[active[i]] != program) continue;
          if (const auto it = meas_ops[i].find(id); it != meas_ops[i].end()) {
            m_sum += it->second.first / static_cast<double>(it->second.second);
            ++m_n;
          }
          if (const auto it = pred_ops[i].find(id); it != pred_ops[i].end()) {
            p_sum += it->second.first / static_cast<double>(it->second.second);
            ++p_n;
          }
        }
        if (m_n == 0 && p_n == 0) continue;
        if (m_n == 0) {
          ++c.ops_only_predicted;
          continue;
        }
        if (p_n == 0) {
          ++c.ops_only_measured;
          continue;
        }
        OpComparison oc;
        oc.program = program;
        oc.op = id;
        oc.name = info->ops[op].name;
        oc.op_class = info->ops[op].op_class;
        oc.predicted_ns = p_sum / static_cast<double>(p_n);
        oc.measured_ns = m_sum / static_cast<double>(m_n);
        oc.error = relative_error(oc.predicted_ns, oc.measured_ns);
        c.ops.push_back(std::move(oc));
      }
    }
    std::stable_sort(c.ops.begin(), c.ops.end(),
                     [](const OpComparison& a, const OpComparison& b) { return a.abs_error_ns() > b.abs_error_ns(); });
  }

  // Checks.
  c.checks.push_back(
      make_check("step time", "s", c.step_time.predicted, c.step_time.measured, options.step_time_tolerance));
  if (!c.memory.empty()) {
    const auto worst = std::max_element(c.memory.begin(), c.memory.end(), [](const auto& a, const auto& b) {
      const double ea = std::isfinite(a.error) ? std::fabs(a.error) : std::numeric_limits<double>::max();
      const double eb = std::isfinite(b.error) ? std::fabs(b.error) : std::numeric_limits<double>::max();
      return ea < eb;
    });
    c.checks.push_back(make_check("peak memory (rank " + std::to_string(worst->measured_rank) + ")", "bytes",
                                  static_cast<double>(worst->predicted_bytes),
                                  static_cast<double>(worst->measured_bytes), options.memory_tolerance));
  }
  for (const auto& g : c.comm_groups)
    if (g.measured >= options.comm_min_share * c.step_time.measured && (g.measured > 0.0 || g.predicted > 0.0))
      c.checks.push_back(make_check("comm " + g.name, "s", g.predicted, g.measured, options.comm_tolerance));
  if (options.calibration_probe && measured.extra.is_object() && measured.extra.contains("machine_probe")) {
    const plan::MachineProbe& cal = *options.calibration_probe;
    const auto& mp = measured.extra.at("machine_probe");
    const plan::MachineProbe before = plan::probe_from_json(mp.at("before"), "extra.machine_probe.before");
    const plan::MachineProbe after = plan::probe_from_json(mp.at("after"), "extra.machine_probe.after");
    // The run's probe furthest from the calibration's (ratio, either way).
    const auto furthest = [](double reference, double a, double b) {
      const auto off = [&](double x) { return std::fabs(std::log(x / reference)); };
      return off(a) >= off(b) ? a : b;
    };
    if (cal.bytes == before.bytes && cal.all_reduce_ns > 0.0 && before.all_reduce_ns > 0.0 && after.all_reduce_ns > 0.0)
      c.checks.push_back(make_check("machine: all-reduce probe", "s", cal.all_reduce_ns * 1e-9,
                                    furthest(cal.all_reduce_ns, before.all_reduce_ns, after.all_reduce_ns) * 1e-9,
                                    options.machine_tolerance));
    if (cal.gemm_ns > 0.0 && before.gemm_ns > 0.0 && after.gemm_ns > 0.0)
      c.checks.push_back(make_check("machine: GEMM probe", "s", cal.gemm_ns * 1e-9,
                                    furthest(cal.gemm_ns, before.gemm_ns, after.gemm_ns) * 1e-9,
                                    options.machine_tolerance));
  }
  c.passed = std::all_of(c.checks.begin(), c.checks.end(), [](const Check& k) { return k.passed; });
  return c;
}

}  // namespace clustersim::reports
