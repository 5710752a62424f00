// The simulator's entry point and event loop: builds the models (device, network), the rank classes
// and the workload, runs the loop (ask every model for its next completion, advance them all to the
// earliest, hand the completions to the workload), then turns the op spans into the Trace and its
// summary. Semantics and definitions are documented in simulate.hpp.
#include "clustersim/engine/simulate.hpp"

#include <algorithm>
#include <array>
#include <chrono>
#include <cmath>
#include <map>

#include "clustersim/engine/cost_model.hpp"
#include "clustersim/plan/error.hpp"
#include "clustersim/plan/json.hpp"
#include "compute_model.hpp"
#include "rank_classes.hpp"
#include "summary.hpp"
#include "workload.hpp"

namespace clustersim::engine {

std::string_view rank_mode_name(RankMode mode) {
  switch (mode) {
    case RankMode::automatic:
      return "automatic";
    case RankMode::expanded:
      return "expanded";
    case RankMode::symmetric:
      return "symmetric";
  }
  return "?";
}

namespace {

nlohmann::json idle_delay_json(const std::vector<plan::IdleDelaySample>& samples) {
  nlohmann::json a = nlohmann::json::array();
  for (const auto& d : samples) a.push_back({{"idle", d.idle_ns}, {"delay", d.delay_ns}});
  return a;
}


std::vector<double> straggler_factors(const plan::Plan& plan, const plan::Hardware& hw) {
  std::vector<double> f(static_cast<std::size_t>(plan.world_size), 1.0);
  for (std::size_t i = 0; i < hw.slowdowns.size(); ++i) {
    const auto& s = hw.slowdowns[i];
    const std::string path = "cluster.slowdowns[" + std::to_string(i) + "]";
    if (s.rank < 0 || s.rank >= plan.world_size)
      throw InputError(path + ".rank", std::to_string(s.rank),
                       "a rank from 0 to " + std::to_string(plan.world_size - 1));
    if (!(s.compute_factor > 0.0) || !std::isfinite(s.compute_factor))
      throw InputError(path + ".compute_factor", plan::describe_value(s.compute_factor), "a factor > 0");
    f[static_cast<std::size_t>(s.rank)] *= s.compute_factor;
  }
  return f;
}

}  // namespace

// One simulation; `sampled` (when not null) is the per-rank compute factor sample to apply instead
// of the profile's mean factors.
plan::Trace simulate_once(const plan::Plan& plan, const plan::Hardware& hardware, const SimulationOptions& options,
                          const std::vector<double>* sampled) {
  const auto wall_start = std::chrono::steady_clock::now();
  plan::validate(plan);
  std::vector<double> straggler = straggler_factors(plan, hardware);

  const std::unique_ptr<CostModel> cost = make_cost_model(options.cost_model, hardware, options.profile);
  NetworkConfig net_config;
  net_config.tier = options.network;
  net_config.collective_algorithm = options.collective_algorithm;
  if (cost->name() == "calibrated") net_config.profile = options.profile;
  const std::unique_ptr<NetworkModel> network = make_network_model(plan, hardware, net_config);

  // A calibrated profile's per-rank compute factors, when it was measured with as many ranks.
  nlohmann::json rank_factors = nullptr;
  if (cost->name() == "calibrated" && options.profile &&
      (sampled != nullptr || !options.profile->rank_compute_factor.empty())) {
    const auto& f = sampled != nullptr ? *sampled : options.profile->rank_compute_factor;
    if (static_cast<std::int32_t>(f.size()) == plan.world_size) {
      for (std::size_t r = 0; r < f.size(); ++r) straggler[r] *= f[r];
      rank_factors = f;
    } else {
      rank_factors = "not applied: the profile was measured with " + std::to_string(f.size()) + " ranks, the plan has " +
                     std::to_string(plan.world_size);
    }
  }

  const double overlap = options.compute_comm_overlap_slowdown.value_or(cost->overlap_slowdown().value_or(1.0));
  if (!(overlap >= 1.0) || !std::isfinite(overlap))
    throw InputError("simulation.compute_comm_overlap_slowdown", plan::describe_value(overlap), "a factor >= 1");

  const double busy_delay = options.comm_busy_delay_ns.value_or(cost->comm_busy_delay_ns().value_or(0.0));
  if (!(busy_delay >= 0.0) || !std::isfinite(busy_delay))
    throw InputError("simulation.comm_busy_delay_ns", plan::describe_value(busy_delay), "a time >= 0 in ns");

  const std::vector<plan::IdleDelaySample> idle_delay =
      options.comm_idle_delay.value_or(cost->comm_idle_delay().value_or(std::vector<plan::IdleDelaySample>{}));
  plan::check_idle_delay(idle_delay, "simulation.comm_idle_delay");

  const PollSchedule poll = options.comm_poll.value_or(cost->comm_poll().value_or(PollSchedule{}));
  plan::check_poll_schedule(
      poll, {"simulation.comm_poll.first_ns", "simulation.comm_poll.cap_ns", "simulation.comm_poll.overshoot_ns"});

  const plan::RankGroups groups(plan);
  const bool asymmetric_hardware = !hardware.degradations.empty() ||
                                   std::any_of(straggler.begin(), straggler.end(), [](double f) { return f != 1.0; });
  const bool symmetric =
      options.rank_mode == RankMode::symmetric || (options.rank_mode == RankMode::automatic && !asymmetric_hardware);
  const detail::RankClasses classes = symmetric ? detail::symmetric_classes(plan, groups, *network, straggler)
                                                : detail::expanded_classes(plan.world_size);
  const auto n_slots = static_cast<std::int32_t>(classes.simulated.size());
  network->set_rank_classes(classes.slot_of_rank);

  // Each program used by a simulated rank is costed once.
  detail::FallbackLog fallbacks;
  std::vector<detail::OpTable> tables(plan.programs.size());
  std::vector<const detail::OpTable*> table_of(plan.programs.size(), nullptr);
  for (plan::Rank r : classes.simulated) {
    const auto p = static_cast<std::size_t>(plan.program_of_rank[static_cast<std::size_t>(r)]);
    if (table_of[p] != nullptr) continue;
    tables[p] = detail::build_op_table(plan, static_cast<std::int32_t>(p), *cost, fallbacks);
    table_of[p] = &tables[p];
  }

  detail::ComputeModel compute(n_slots, overlap);
  detail::Workload workload(plan, groups, classes, table_of, straggler,
                            options.record_memory_timeline ? options.max_timeline_samples : 0, compute, *network,
                            busy_delay, poll, idle_delay);

  // The event loop: it knows models and tokens, nothing about GPUs or links.
  std::array<Model*, 2> models{&compute, network.get()};
  std::vector<Token> completed;
  completed.reserve(1024);
  std::int64_t events = 0;
  std::uint64_t rounds = 0;
  workload.start();
  while (true) {
    TimeNs now = kNever;
    for (Model* m : models) now = std::min(now, m->next_event_ns());
    if (now == kNever) break;
    for (Model* m : models) m->advance_to(now, completed);
    events += static_cast<std::int64_t>(completed.size());
    workload.handle(now, completed);
    completed.clear();
    if (options.progress && (++rounds & 0x3fff) == 0) {
      const double done = static_cast<double>(workload.finished_ops()) / static_cast<double>(workload.total_ops());
      if (!options.progress(done)) throw Error("simulation cancelled");
    }
  }
  if (workload.finished_ops() != workload.total_ops())
    throw InternalError("the plan cannot finish (" + std::to_string(workload.total_ops() - workload.finished_ops()) +
                        " ops never ran): " + workload.describe_stuck(4));
  if (options.progress && !options.progress(1.0)) throw Error("simulation cancelled");

  // --- the trace ---------------------------------------------------------------------------------
  plan::Trace trace;
  trace.source = plan::TraceSource::simulated;
  trace.scenario = plan.meta.scenario;
  trace.hardware = hardware.name;
  trace.backend =
      "sim:" + std::string(cost->name()) + "/" + std::string(network->tier_name()) + "/" + options.collective_algorithm;
  for (std::int32_t s = 0; s < n_slots; ++s) {
    trace.ranks.push_back(workload.rank_of_slot(s));
    trace.program_of_rank.push_back(workload.program_of_slot(s));
  }
  for (std::size_t p = 0; p < plan.programs.size(); ++p)
    trace.programs.push_back(plan::describe_program(plan, static_cast<std::int32_t>(p)));

  if (options.record_ops) {
    trace.ops.reserve(static_cast<std::size_t>(workload.total_ops()));
    for (std::int32_t s = 0; s < n_slots; ++s) {
      const plan::Rank rank = workload.rank_of_slot(s);
      const plan::Program& prog = plan.programs[static_cast<std::size_t>(workload.program_of_slot(s))];
      const detail::OpTable& t = workload.table_of_slot(s);
      const std::int64_t* start = workload.start_ns(s);
      const std::int64_t* end = workload.end_ns(s);
      const std::int64_t* transfer = workload.transfer_start_ns(s);
      for (std::size_t op = 0; op < prog.ops.size(); ++op) {
        trace.ops.push_back({rank, static_cast<std::int32_t>(op), prog.ops[op].stream, 0, start[op], end[op]});
        const detail::OpTag tag = t.tag[op];
        if (tag != detail::OpTag::collective && tag != detail::OpTag::send && tag != detail::OpTag::recv) continue;
        plan::CommSpan c;
        c.rank = rank;
        c.group = t.comm[op].kind;
        c.group_id = groups.group_of(rank, c.group);
        c.type = tag == detail::OpTag::collective ? std::string(to_string(t.comm[op].type))
                 : tag == detail::OpTag::send     ? "send"
                                                  : "recv";
        c.bytes = t.comm[op].bytes;
        c.start_ns = transfer[t.comm_ordinal[op]];
        c.end_ns = end[op];
        trace.comm.push_back(std::move(c));
      }
    }
  }

  const std::int64_t capacity = hardware.usable_memory_bytes();
  for (std::int32_t s = 0; s < n_slots; ++s)
    trace.memory.push_back(
        workload.memory(s).result(workload.rank_of_slot(s), workload.table_of_slot(s).persistent_bytes, capacity));

  // --- the summary -------------------------------------------------------------------------------
  plan::Summary& sum = trace.summary;
  // The critical slot first (the latest op end), so each slot's spans are walked once.
  std::int32_t critical = 0;
  std::int64_t step_ns = 0;
  for (std::int32_t s = 0; s < n_slots; ++s) {
    const std::int64_t* end = workload.end_ns(s);
    std::int64_t last = 0;
    for (std::size_t i = 0; i < workload.table_of_slot(s).tag.size(); ++i) last = std::max(last, end[i]);
    if (last > step_ns) step_ns = last, critical = s;
  }
  std::vector<detail::RankActivity> activity;
  activity.reserve(static_cast<std::size_t>(n_slots));
  for (std::int32_t s = 0; s < n_slots; ++s)
    activity.push_back(detail::rank_activity(workload.table_of_slot(s), workload.start_ns(s), workload.end_ns(s),
                                             s == critical ? &sum.comm : nullptr));
  const double step_s = static_cast<double>(step_ns) * 1e-9;
  sum.step_time_s = step_s;
  sum.critical_rank = n_slots > 0 ? workload.rank_of_slot(critical) : 0;
  const detail::RankActivity crit = n_slots > 0 ? activity[static_cast<std::size_t>(critical)] : detail::RankActivity{};
  sum.compute_time_s = static_cast<double>(crit.busy_ns) * 1e-9;
  nlohmann::json transfer_s = nlohmann::json::object();
  if (n_slots > 0) {
    const detail::OpTable& t = workload.table_of_slot(critical);
    const std::int64_t* transfer = workload.transfer_start_ns(critical);
    const std::int64_t* end = workload.end_ns(critical);
    // Per (group kind, type): collective types, then send, then recv.
    constexpr std::size_t kTypes = enum_count<CollectiveType>() + 2;
    std::array<std::array<std::int64_t, kTypes>, kGroupKindCount> per_type{};
    std::array<std::array<bool, kTypes>, kGroupKindCount> seen{};
    for (std::size_t op = 0; op < t.tag.size(); ++op) {
      if (t.comm_ordinal[op] < 0) continue;
      const std::size_t type = t.tag[op] == detail::OpTag::collective ? static_cast<std::size_t>(t.comm[op].type)
                               : t.tag[op] == detail::OpTag::send     ? kTypes - 2
                                                                      : kTypes - 1;
      const auto kind = static_cast<std::size_t>(t.comm[op].kind);
      per_type[kind][type] += end[op] - transfer[t.comm_ordinal[op]];
      seen[kind][type] = true;
    }
    for (std::size_t k = 0; k < kGroupKindCount; ++k)
      for (std::size_t type = 0; type < kTypes; ++type) {
        if (!seen[k][type]) continue;
        const std::string_view name = type < kTypes - 2    ? to_string(static_cast<CollectiveType>(type))
                                      : type == kTypes - 2 ? std::string_view("send")
                                                           : std::string_view("recv");
        transfer_s[std::string(to_string(static_cast<GroupKind>(k))) + ":" + std::string(name)] =
            static_cast<double>(per_type[k][type]) * 1e-9;
      }
  }
  for (const auto& c : sum.comm) sum.comm_time_s += c.time_s;
  sum.exposed_comm_s = static_cast<double>(crit.exposed_comm_ns) * 1e-9;
  if (step_ns > 0) {
    double weighted = 0.0, weight = 0.0;
    for (std::int32_t s = 0; s < n_slots; ++s) {
      const auto& a = activity[static_cast<std::size_t>(s)];
      const double share =
          static_cast<double>(std::max<std::int64_t>(0, step_ns - a.busy_ns - a.exposed_collective_ns)) /
          static_cast<double>(step_ns);
      const auto w = static_cast<double>(classes.class_size[static_cast<std::size_t>(s)]);
      weighted += w * share;
      weight += w;
    }
    sum.bubble_fraction = weight > 0.0 ? weighted / weight : 0.0;
    if (plan.meta.tokens_per_step > 0) sum.tokens_per_s = static_cast<double>(plan.meta.tokens_per_step) / step_s;
    sum.samples_per_s = static_cast<double>(plan.meta.global_batch) / step_s;
    if (plan.meta.model_flops_per_step > 0.0 || plan.meta.hardware_flops_per_step > 0.0) {
      const double peak = hardware.gpu.peak_tflops_for(compute_dtype(plan.meta.precision)) * 1e12;
      const double denominator = step_s * static_cast<double>(plan.world_size) * peak;
      sum.mfu = plan.meta.model_flops_per_step / denominator;
      sum.hfu = plan.meta.hardware_flops_per_step / denominator;
    }
  }
  sum.model_flops_per_step = plan.meta.model_flops_per_step;
  sum.capacity_bytes = capacity;
  sum.fits = true;
  for (const auto& m : trace.memory) {
    sum.peak_memory_bytes = std::max(sum.peak_memory_bytes, m.peak_bytes);
    sum.fits = sum.fits && m.fits;
  }
  sum.steps = 1;
  sum.events = events;

  nlohmann::json represented = nlohmann::json::array();
  for (auto n : classes.class_size) represented.push_back(n);
  nlohmann::json fallback_list = nlohmann::json::array();
  for (const auto& [what, entry] : fallbacks)
    fallback_list.push_back({{"what", what}, {"ops", entry.first}, {"example", entry.second}});
  nlohmann::json cost_info = cost->describe();
  cost_info["name"] = cost->name();
  cost_info["fallbacks"] = std::move(fallback_list);
  trace.extra = {{"rank_mode", symmetric ? "symmetric" : "expanded"},
                 {"represented_ranks", std::move(represented)},
                 {"compute_comm_overlap_slowdown", overlap},
                 {"comm_busy_delay_ns", busy_delay},
                 {"comm_idle_delay_ns", idle_delay_json(idle_delay)},
                 {"comm_poll_ns", {{"first", poll.first_ns}, {"cap", poll.cap_ns}, {"overshoot", poll.overshoot_ns}}},
                 {"rank_compute_factor", std::move(rank_factors)},
                 {"comm_transfer_s", std::move(transfer_s)},
                 {"network", network->report()},
                 {"cost_model", std::move(cost_info)}};

  if (options.record_wall_time)
    sum.wall_time_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - wall_start).count();
  return trace;
}

plan::Trace simulate(const plan::Plan& plan, const plan::Hardware& hardware, const SimulationOptions& options) {
  const plan::CalibrationProfile* profile = options.profile.get();
  const bool sample_noise = options.cost_model == "calibrated" && profile != nullptr &&
                            !profile->rank_compute_factor_samples.empty() &&
                            static_cast<std::int32_t>(profile->rank_compute_factor_samples.front().size()) ==
                                plan.world_size;
  if (!sample_noise) return simulate_once(plan, hardware, options, nullptr);
  // One simulation per sampled set of per-rank speeds; the step at the median, as a measured run's
  // step time is the median step (Hoefler, Schneider & Lumsdaine, "Characterizing the influence of
  // system noise on large-scale applications by simulation", SC 2010: noise is an input of the
  // simulation, and a synchronising step runs at the pace of its slowest rank).
  std::vector<plan::Trace> runs;
  for (const auto& sample : profile->rank_compute_factor_samples) runs.push_back(simulate_once(plan, hardware, options, &sample));
  std::vector<std::size_t> order(runs.size());
  for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
    return runs[a].summary.step_time_s < runs[b].summary.step_time_s;
  });
  auto at = [&](double q) {
    return runs[order[static_cast<std::size_t>(std::lround(q * static_cast<double>(order.size() - 1)))]].summary.step_time_s;
  };
  const std::size_t mid = order[order.size() / 2];
  plan::Trace median = std::move(runs[mid]);
  if (options.keep_noise_comm) {
    std::int32_t step = 1;
    for (std::size_t i = 0; i < runs.size(); ++i) {
      if (i == mid) continue;
      for (plan::CommSpan& c : runs[i].comm) {
        c.step = step;
        median.comm.push_back(std::move(c));
      }
      ++step;
    }
  }
  median.extra["rank_noise"] = {{"samples", runs.size()},
                                {"step_time_s", {{"p10", at(0.1)}, {"p50", at(0.5)}, {"p90", at(0.9)}}},
                                {"source", "calibration rounds: per-rank compute factors (profile rank_compute_factor_samples)"}};
  return median;
}

}  // namespace clustersim::engine
