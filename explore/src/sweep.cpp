// Sweep files, point expansion, parallel evaluation and output; see sweep.hpp.
#include "clustersim/explore/sweep.hpp"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <filesystem>
#include <mutex>
#include <random>
#include <sstream>
#include <thread>

#include "clustersim/models/build.hpp"
#include "clustersim/models/scenario.hpp"
#include "clustersim/plan/json.hpp"
#include "clustersim/plan/json_reader.hpp"
#include "clustersim/reports/csv_report.hpp"
#include "clustersim/reports/format.hpp"

namespace clustersim::explore {

using nlohmann::json;

SweepSpec parse_sweep(const json& j, const std::string& base_dir) {
  SweepSpec spec;
  ObjectReader r(j, "");
  spec.name = r.string("name");
  spec.description = r.string_or("description", "");
  const json& base = r.at("base");
  if (base.is_string()) {
    std::filesystem::path p(base.get<std::string>());
    if (p.is_relative()) p = std::filesystem::path(base_dir) / p;
    try {
      spec.base = models::load_scenario_json(p.string());
    } catch (const InputError& e) {
      throw InputError("base", "\"" + base.get<std::string>() + "\" (" + e.what() + ")",
                       "a scenario file path, relative to the sweep file, or an inline scenario object");
    }
  } else if (base.is_object()) {
    spec.base = base;
  } else {
    throw InputError("base", plan::describe_value(base), "a scenario file path or an inline scenario object");
  }
  if (const json* set = r.find("set")) {
    if (!set->is_object()) throw InputError("set", plan::describe_value(*set), "an object of \"dot.path\": value");
    for (const auto& [k, v] : set->items()) spec.set.emplace_back(k, v);
  }
  const std::string mode = r.choice_or("mode", "grid", {"grid", "random"});
  spec.random = mode == "random";
  spec.seed = r.integer_or("seed", 1, std::numeric_limits<std::int64_t>::min(), std::numeric_limits<std::int64_t>::max());
  spec.samples = spec.random ? r.integer("samples", 1, 10'000'000) : r.integer_or("samples", 0, 0, 0);
  const json& axes = r.at("axes");
  if (!axes.is_array() || axes.empty())
    throw InputError("axes", plan::describe_value(axes), "a non-empty array of {\"path\", \"values\" | \"range\"}");
  std::int64_t grid = 1;
  for (std::size_t i = 0; i < axes.size(); ++i) {
    const std::string path = "axes[" + std::to_string(i) + "]";
    ObjectReader a(axes[i], path);
    Axis axis;
    axis.path = a.string("path");
    if (axis.path.empty()) throw InputError(path + ".path", "\"\"", "a dot path such as \"parallelism.tp\"");
    if (const json* values = a.find("values")) {
      if (!values->is_array() || values->empty())
        throw InputError(path + ".values", plan::describe_value(*values), "a non-empty array of values");
      axis.values.assign(values->begin(), values->end());
    }
    if (const json* range = a.find("range")) {
      if (!axis.values.empty()) throw InputError(path + ".range", "both values and range", "one of values or range");
      ObjectReader rr(*range, path + ".range");
      constexpr double inf = std::numeric_limits<double>::infinity();
      axis.min = rr.number("min", -inf, inf);
      axis.max = rr.number("max", axis.min, inf);
      axis.integer = rr.boolean_or("integer", false);
      axis.log = rr.boolean_or("log", false);
      if (axis.log && axis.min <= 0) throw InputError(path + ".range.min", plan::describe_value(axis.min), "> 0 with log");
      rr.finish();
      if (!spec.random) throw InputError(path + ".range", "a range", "\"values\" in grid mode (ranges need \"mode\": \"random\")");
    }
    if (axis.values.empty() && !a.has("range")) throw InputError(path, "an axis without values", "\"values\" or \"range\"");
    a.finish();
    if (!spec.random) {
      grid *= static_cast<std::int64_t>(axis.values.size());
      if (grid > 10'000'000) throw InputError("axes", std::to_string(grid) + "+ grid points", "at most 10,000,000");
    }
    spec.axes.push_back(std::move(axis));
  }
  r.finish();
  return spec;
}

SweepSpec load_sweep(const std::string& path) {
  const json j = plan::read_json_file(path);
  try {
    return parse_sweep(j, std::filesystem::path(path).parent_path().string());
  } catch (const InputError& e) {
    throw InputError(path + ": " + e.json_path(), e.value(), e.allowed());
  }
}

namespace {

json apply_point(const SweepSpec& spec, const std::vector<json>& values) {
  json scenario = spec.base;
  for (const auto& [path, value] : spec.set) models::set_path(scenario, path, value);
  for (std::size_t i = 0; i < values.size(); ++i) models::set_path(scenario, spec.axes[i].path, values[i]);
  return scenario;
}

}  // namespace

std::vector<SweepPoint> expand(const SweepSpec& spec) {
  std::vector<SweepPoint> points;
  if (!spec.random) {
    // Odometer over the axes, the last axis fastest.
    std::vector<std::size_t> idx(spec.axes.size(), 0);
    for (std::int64_t n = 0;; ++n) {
      SweepPoint p;
      p.index = n;
      for (std::size_t a = 0; a < spec.axes.size(); ++a) p.values.push_back(spec.axes[a].values[idx[a]]);
      points.push_back(std::move(p));
      bool carry = true;
      for (std::size_t a = spec.axes.size(); carry && a > 0;) {
        --a;
        if (++idx[a] < spec.axes[a].values.size()) carry = false;
        else idx[a] = 0;
      }
      if (carry) break;
    }
  } else {
    std::mt19937_64 rng(static_cast<std::uint64_t>(spec.seed));
    for (std::int64_t n = 0; n < spec.samples; ++n) {
      SweepPoint p;
      p.index = n;
      for (const auto& axis : spec.axes) {
        if (!axis.values.empty()) {
          std::uniform_int_distribution<std::size_t> pick(0, axis.values.size() - 1);
          p.values.push_back(axis.values[pick(rng)]);
          continue;
        }
        std::uniform_real_distribution<double> u(0.0, 1.0);
        double x = axis.log ? std::exp(std::log(axis.min) + u(rng) * (std::log(axis.max) - std::log(axis.min)))
                            : axis.min + u(rng) * (axis.max - axis.min);
        if (axis.integer) p.values.push_back(static_cast<std::int64_t>(std::llround(x)));
        else p.values.push_back(x);
      }
      points.push_back(std::move(p));
    }
  }
  for (auto& p : points) p.scenario = apply_point(spec, p.values);
  return points;
}

PointResult evaluate_point(const SweepPoint& point, const engine::SimulationOptions& simulation) {
  PointResult r;
  r.index = point.index;
  r.values = point.values;
  try {
    const models::Scenario sc = models::parse_scenario(point.scenario);
    const plan::Plan p = models::build_plan(sc);
    engine::SimulationOptions o = simulation;
    o.record_ops = false;
    o.record_memory_timeline = false;
    o.progress = nullptr;
    r.trace = engine::simulate(p, models::hardware_of(sc), o);
    r.trace.programs.clear();  // op tables are not needed for a row
    r.ok = true;
  } catch (const InputError& e) {
    r.error = e.what();
    r.error_path = e.json_path();
  }
  return r;
}

std::vector<PointResult> evaluate(const std::vector<SweepPoint>& points, const EvaluateOptions& options) {
  std::vector<const SweepPoint*> mine;
  for (const auto& p : points)
    if (p.index % std::max(1, options.parts) == options.part) mine.push_back(&p);
  std::vector<PointResult> results(mine.size());
  const unsigned cores = std::max(1u, std::thread::hardware_concurrency());
  const std::size_t jobs = std::min<std::size_t>(options.jobs > 0 ? static_cast<std::size_t>(options.jobs) : cores,
                                                 std::max<std::size_t>(1, mine.size()));
  std::atomic<std::size_t> next{0};
  std::atomic<std::int64_t> done{0};
  std::mutex progress_mutex;
  std::exception_ptr failure;
  std::mutex failure_mutex;
  auto work = [&]() {
    for (;;) {
      const std::size_t i = next.fetch_add(1);
      if (i >= mine.size()) return;
      try {
        results[i] = evaluate_point(*mine[i], options.simulation);
      } catch (...) {
        std::lock_guard<std::mutex> lock(failure_mutex);
        if (!failure) failure = std::current_exception();
        next.store(mine.size());
        return;
      }
      const std::int64_t d = ++done;
      if (options.progress) {
        std::lock_guard<std::mutex> lock(progress_mutex);
        options.progress(d, static_cast<std::int64_t>(mine.size()));
      }
    }
  };
  std::vector<std::thread> threads;
  for (std::size_t t = 1; t < jobs; ++t) threads.emplace_back(work);
  work();
  for (auto& t : threads) t.join();
  if (failure) std::rethrow_exception(failure);
  return results;
}

namespace {

reports::CsvColumns point_columns(const SweepSpec& spec, const PointResult& r) {
  reports::CsvColumns c;
  c.emplace_back("point", std::to_string(r.index));
  for (std::size_t a = 0; a < spec.axes.size(); ++a) {
    const json& v = a < r.values.size() ? r.values[a] : json();
    c.emplace_back(spec.axes[a].path, v.is_string() ? v.get<std::string>() : v.dump());
  }
  c.emplace_back("status", r.ok ? "ok" : "invalid");
  c.emplace_back("error", r.error);
  return c;
}

}  // namespace

std::string results_csv(const SweepSpec& spec, const std::vector<PointResult>& results) {
  std::ostringstream os;
  PointResult header_row;
  os << reports::csv_header(point_columns(spec, header_row)) << '\n';
  for (const auto& r : results) {
    const auto extra = point_columns(spec, r);
    if (r.ok) {
      os << reports::csv_row(r.trace, {}, extra) << '\n';
    } else {
      // Invalid points keep their row: parameters, status and the error; metrics stay empty.
      std::vector<std::string> cells;
      for (const auto& [name, value] : extra) cells.push_back(value);
      cells.resize(reports::csv_columns(extra).size());
      os << reports::csv_join(cells) << '\n';
    }
  }
  return os.str();
}

json to_json(const PointResult& r) {
  json j = {{"point", r.index}, {"values", r.values}, {"ok", r.ok}};
  if (r.ok) j["trace"] = plan::to_json(r.trace);
  else j["error"] = {{"message", r.error}, {"path", r.error_path}};
  return j;
}

PointResult point_result_from_json(const json& j) {
  PointResult r;
  r.index = j.at("point").get<std::int64_t>();
  r.values = j.at("values").get<std::vector<json>>();
  r.ok = j.at("ok").get<bool>();
  if (r.ok) {
    r.trace = plan::trace_from_json(j.at("trace"));
  } else {
    r.error = j.at("error").at("message").get<std::string>();
    r.error_path = j.at("error").at("path").get<std::string>();
  }
  return r;
}

json results_json(const SweepSpec& spec, const std::vector<PointResult>& results) {
  json rows = json::array();
  for (const auto& r : results) {
    json row = {{"point", r.index}, {"status", r.ok ? "ok" : "invalid"}};
    json params = json::object();
    for (std::size_t a = 0; a < spec.axes.size() && a < r.values.size(); ++a) params[spec.axes[a].path] = r.values[a];
    row["parameters"] = params;
    if (r.ok) row["summary"] = plan::to_json(r.trace.summary);
    else row["error"] = {{"message", r.error}, {"path", r.error_path}};
    rows.push_back(std::move(row));
  }
  return {{"schema", "clustersim.sweep/1"}, {"name", spec.name}, {"description", spec.description}, {"points", rows}};
}

}  // namespace clustersim::explore
