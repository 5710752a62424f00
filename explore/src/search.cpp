// Configuration search; see search.hpp for the method.
#include "clustersim/explore/search.hpp"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <mutex>
#include <sstream>
#include <thread>

#include <fmt/format.h>

#include "clustersim/explore/sweep.hpp"
#include "clustersim/models/build.hpp"
#include "clustersim/reports/format.hpp"

namespace clustersim::explore {

using nlohmann::json;

Objective parse_objective(const std::string& name) {
  if (name == "throughput") return Objective::throughput;
  if (name == "memory") return Objective::memory;
  if (name == "cost") return Objective::cost;
  throw InputError("--objective", "\"" + name + "\"", "one of \"throughput\", \"memory\" or \"cost\"");
}

std::string Config::describe() const {
  std::string s = fmt::format("tp {} pp {} dp {}", tp, pp, dp);
  if (sp) s += " sp";
  s += fmt::format(" mb {}", micro_batch);
  if (pp > 1) s += " " + schedule + (virtual_stages > 1 ? fmt::format(" v{}", virtual_stages) : "");
  s += " recompute " + recompute;
  if (zero > 0) s += fmt::format(" zero {}", zero);
  return s;
}

json apply_config(const json& base, const Config& c) {
  json j = base;
  if (c.nodes > 0) j["cluster"]["nodes"] = c.nodes;
  j["parallelism"] = {{"tp", c.tp}, {"pp", c.pp}, {"dp", c.dp}, {"sp", c.sp}};
  if (c.pp > 1) {
    j["parallelism"]["schedule"] = c.schedule;
    if (c.virtual_stages > 1) j["parallelism"]["virtual_stages"] = c.virtual_stages;
  }
  j["training"]["micro_batch"] = c.micro_batch;
  j["training"]["recompute"] = c.recompute;
  j["training"]["zero_stage"] = c.zero;
  return j;
}

namespace {

std::vector<std::int64_t> divisors(std::int64_t n) {
  std::vector<std::int64_t> out;
  for (std::int64_t i = 1; i <= n; ++i)
    if (n % i == 0) out.push_back(i);
  return out;
}

std::vector<Config> enumerate(const models::Scenario& sc, std::int32_t nodes) {
  const auto& a = sc.model.arch;
  const std::int64_t gpus = static_cast<std::int64_t>(nodes) * sc.cluster.gpus_per_node;
  std::vector<Config> out;
  std::vector<std::int64_t> tps;
  for (std::int64_t t = 1; t <= sc.cluster.gpus_per_node; t *= 2)
    if (a.heads % t == 0 && (a.kv_heads == 0 || a.kv_heads % t == 0) && a.ffn_hidden % t == 0) tps.push_back(t);
  for (std::int64_t t : tps)
    for (std::int64_t p : divisors(a.layers)) {
      if (gpus % (t * p) != 0) continue;
      const std::int64_t d = gpus / (t * p);
      if (sc.training.global_batch % d != 0) continue;
      const std::int64_t per_replica = sc.training.global_batch / d;
      for (std::int64_t mb = 1; mb <= 64 && mb <= per_replica; mb *= 2) {
        if (per_replica % mb != 0) continue;
        const std::int64_t m = per_replica / mb;
        for (bool sp : {false, true}) {
          if (sp && (t == 1 || sc.model.seq_len % t != 0)) continue;
          std::vector<std::pair<std::string, std::int64_t>> schedules;
          if (p == 1) {
            schedules.emplace_back("1f1b", 1);
          } else {
            schedules.emplace_back("1f1b", 1);
            schedules.emplace_back("gpipe", 1);
            if (m % p == 0)
              for (std::int64_t v : divisors(a.layers / p))
                if (v >= 2 && v <= 8) schedules.emplace_back("interleaved-1f1b", v);
          }
          for (const auto& [schedule, v] : schedules)
            for (const char* recompute : {"none", "selective", "full"}) {
              // With flash attention nothing quadratic is stored: selective recomputation is "none".
              if (sc.training.flash_attention && std::string(recompute) == "selective") continue;
              for (int zero = 0; zero <= 3; ++zero) {
                if (d == 1 && zero > 0) continue;
                if (p > 1 && zero >= 2) continue;
                Config c;
                c.nodes = nodes;
                c.tp = static_cast<std::int32_t>(t);
                c.pp = static_cast<std::int32_t>(p);
                c.dp = static_cast<std::int32_t>(d);
                c.sp = sp;
                c.micro_batch = static_cast<std::int32_t>(mb);
                c.schedule = schedule;
                c.virtual_stages = static_cast<std::int32_t>(v);
                c.recompute = recompute;
                c.zero = zero;
                out.push_back(c);
              }
            }
        }
      }
    }
  return out;
}

double objective_of(Objective o, const plan::Summary& s, double step_time, double peak, const models::Scenario& sc) {
  switch (o) {
    case Objective::throughput:
      return step_time;
    case Objective::memory:
      return peak;
    case Objective::cost: {
      const double gpus = sc.cluster.gpus();
      const double tokens = sc.model.seq_len > 0 ? static_cast<double>(sc.training.global_batch * sc.model.seq_len)
                                                 : static_cast<double>(sc.training.global_batch);
      (void)s;
      return gpus * sc.cluster.gpu.price_usd_per_hour / 3600.0 * step_time / tokens * 1e6;
    }
  }
  return step_time;
}

template <typename F>
void parallel_for(std::size_t n, int jobs, F&& f) {
  const std::size_t threads = std::min<std::size_t>(
      jobs > 0 ? static_cast<std::size_t>(jobs) : std::max(1u, std::thread::hardware_concurrency()),
      std::max<std::size_t>(1, n));
  std::atomic<std::size_t> next{0};
  std::exception_ptr failure;
  std::mutex m;
  auto work = [&]() {
    for (std::size_t i; (i = next.fetch_add(1)) < n;) {
      try {
        f(i);
      } catch (...) {
        std::lock_guard<std::mutex> lock(m);
        if (!failure) failure = std::current_exception();
        next.store(n);
      }
    }
  };
  std::vector<std::thread> pool;
  for (std::size_t t = 1; t < threads; ++t) pool.emplace_back(work);
  work();
  for (auto& t : pool) t.join();
  if (failure) std::rethrow_exception(failure);
}

std::string explain(const Candidate& c, const Candidate* next, Objective o) {
  const auto& s = c.summary;
  std::string why = fmt::format("step {} (compute {}, exposed comm {}, bubble {}), MFU {}, peak {} of {}",
                                reports::format_duration_s(s.step_time_s), reports::format_duration_s(s.compute_time_s),
                                reports::format_duration_s(s.exposed_comm_s),
                                reports::format_percent(s.bubble_fraction), reports::format_percent(s.mfu),
                                reports::format_bytes(s.peak_memory_bytes), reports::format_bytes(s.capacity_bytes));
  if (next == nullptr) return why;
  const auto& n = next->summary;
  // The components that differ most from the runner-up, in seconds per step.
  struct Delta {
    double seconds;
    std::string what;
  };
  std::vector<Delta> deltas = {
      {n.compute_time_s - s.compute_time_s, "compute"},
      {n.exposed_comm_s - s.exposed_comm_s, "exposed communication"},
      {(n.bubble_fraction * n.step_time_s) - (s.bubble_fraction * s.step_time_s), "pipeline bubble"},
  };
  std::sort(deltas.begin(), deltas.end(),
            [](const Delta& x, const Delta& y) { return std::fabs(x.seconds) > std::fabs(y.seconds); });
  if (o == Objective::memory) {
    why += fmt::format("; {} less memory than the next ({})",
                       reports::format_bytes(static_cast<double>(n.peak_memory_bytes - s.peak_memory_bytes)),
                       next->config.describe());
  } else {
    why += fmt::format("; {} faster than the next ({}): {} {} by {}",
                       reports::format_percent(n.step_time_s / s.step_time_s - 1.0), next->config.describe(),
                       deltas[0].what, deltas[0].seconds >= 0 ? "lower" : "higher",
                       reports::format_duration_s(std::fabs(deltas[0].seconds)));
  }
  return why;
}

}  // namespace

SearchResult search(const json& base, const SearchOptions& options) {
  SearchResult result;
  const models::Scenario base_sc = models::parse_scenario(base);
  if (!base_sc.model.arch.is_transformer())
    throw InputError("model.architecture", "\"" + base_sc.model.arch.name + "\"",
                     "a transformer: search explores tensor, pipeline and data parallelism");
  if (options.objective == Objective::cost && base_sc.cluster.gpu.price_usd_per_hour <= 0.0)
    throw InputError("cluster.gpu.price_usd_per_hour", "0", "a price per GPU-hour for the cost objective");
  result.objective_unit = options.objective == Objective::throughput ? "s/step"
                          : options.objective == Objective::memory   ? "bytes"
                                                                     : "USD per million tokens";
  std::vector<std::int32_t> node_counts = options.nodes;
  if (node_counts.empty()) node_counts.push_back(base_sc.cluster.nodes);

  // 1-2. Enumerate, validate, estimate, prune.
  std::vector<Config> configs;
  for (std::int32_t nodes : node_counts) {
    auto c = enumerate(base_sc, nodes);
    configs.insert(configs.end(), c.begin(), c.end());
  }
  result.enumerated = static_cast<std::int64_t>(configs.size());
  std::vector<std::optional<Candidate>> estimated(configs.size());
  std::atomic<std::int64_t> invalid{0}, pruned{0}, done{0};
  std::mutex progress_mutex;
  parallel_for(configs.size(), options.jobs, [&](std::size_t i) {
    Candidate c;
    c.config = configs[i];
    c.scenario = apply_config(base, configs[i]);
    try {
      const models::Scenario sc = models::parse_scenario(c.scenario);
      c.estimate = estimate_step(sc);
      if (c.estimate.peak_memory_bytes > c.estimate.capacity_bytes * options.memory_margin) {
        ++pruned;
      } else {
        c.objective = objective_of(options.objective, {}, c.estimate.step_time_s, c.estimate.peak_memory_bytes, sc);
        estimated[i] = std::move(c);
      }
    } catch (const InputError&) {
      ++invalid;
    }
    const auto d = ++done;
    if (options.progress && d % 256 == 0) {
      std::lock_guard<std::mutex> lock(progress_mutex);
      options.progress("estimate", d, static_cast<std::int64_t>(configs.size()));
    }
  });
  result.invalid = invalid;
  result.pruned_memory = pruned;
  std::vector<Candidate> survivors;
  for (auto& c : estimated)
    if (c) survivors.push_back(std::move(*c));
  result.estimated = static_cast<std::int64_t>(survivors.size());
  std::stable_sort(survivors.begin(), survivors.end(),
                   [](const Candidate& x, const Candidate& y) { return x.objective < y.objective; });

  // 3a. Re-rank the best estimates by the step model with costed compute.
  if (options.objective != Objective::memory && options.refine != 0) {
    const std::size_t n_ref = options.refine < 0
                                  ? survivors.size()
                                  : std::min<std::size_t>(survivors.size(), static_cast<std::size_t>(options.refine));
    std::atomic<std::int64_t> refined{0};
    parallel_for(n_ref, options.jobs, [&](std::size_t i) {
      Candidate& c = survivors[i];
      try {
        const models::Scenario sc = models::parse_scenario(c.scenario);
        c.model = step_model(sc, c.estimate, options.simulation.cost_model, options.simulation.profile);
        c.refined = true;
        c.objective = objective_of(options.objective, {}, c.model.step_time_s, c.estimate.peak_memory_bytes, sc);
      } catch (const InputError&) {
        // keeps its closed-form objective
      }
      const auto d = ++refined;
      if (options.progress && (d % 16 == 0 || d == static_cast<std::int64_t>(n_ref))) {
        std::lock_guard<std::mutex> lock(progress_mutex);
        options.progress("refine", d, static_cast<std::int64_t>(n_ref));
      }
    });
    result.refined = static_cast<std::int64_t>(n_ref);
    std::stable_sort(survivors.begin(), survivors.begin() + static_cast<std::ptrdiff_t>(n_ref),
                     [](const Candidate& x, const Candidate& y) { return x.objective < y.objective; });
  }

  // 3b. Simulate the best.
  const std::size_t n_sim =
      std::min<std::size_t>(survivors.size(), static_cast<std::size_t>(std::max(options.simulate, options.top)));
  survivors.resize(n_sim);
  std::atomic<std::int64_t> simulated{0};
  parallel_for(n_sim, options.jobs, [&](std::size_t i) {
    Candidate& c = survivors[i];
    SweepPoint point;
    point.index = static_cast<std::int64_t>(i);
    point.scenario = c.scenario;
    PointResult r = evaluate_point(point, options.simulation);
    if (r.ok) {
      c.simulated = true;
      c.summary = r.trace.summary;
      const models::Scenario sc = models::parse_scenario(c.scenario);
      c.objective = objective_of(options.objective, c.summary, c.summary.step_time_s,
                                 static_cast<double>(c.summary.peak_memory_bytes), sc);
    }
    const auto d = ++simulated;
    if (options.progress) {
      std::lock_guard<std::mutex> lock(progress_mutex);
      options.progress("simulate", d, static_cast<std::int64_t>(n_sim));
    }
  });
  result.simulated = simulated;
  std::vector<Candidate> ranked;
  for (auto& c : survivors) {
    if (!c.simulated) continue;
    if (!c.summary.fits) {
      ++result.simulated_not_fitting;
      continue;
    }
    ranked.push_back(std::move(c));
  }
  std::stable_sort(ranked.begin(), ranked.end(),
                   [](const Candidate& x, const Candidate& y) { return x.objective < y.objective; });
  if (ranked.size() > static_cast<std::size_t>(options.top)) ranked.resize(static_cast<std::size_t>(options.top) + 1);
  for (std::size_t i = 0; i < ranked.size(); ++i)
    ranked[i].why = explain(ranked[i], i + 1 < ranked.size() ? &ranked[i + 1] : nullptr, options.objective);
  if (ranked.size() > static_cast<std::size_t>(options.top)) ranked.resize(static_cast<std::size_t>(options.top));
  result.ranked = std::move(ranked);
  return result;
}

}  // namespace clustersim::explore
