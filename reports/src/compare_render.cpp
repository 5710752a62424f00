// Renderers of a Comparison: console table, JSON ("clustersim.comparison/1") and markdown for
// reports/results/, plus their registry by name (see compare.hpp).
#include <algorithm>
#include <cmath>
#include <functional>
#include <set>

#include <fmt/format.h>

#include "clustersim/plan/error.hpp"
#include "clustersim/reports/compare.hpp"
#include "clustersim/reports/format.hpp"
#include "text_table.hpp"

namespace clustersim::reports {

using detail::Style;
using detail::TextTable;
using Align = TextTable::Align;
using nlohmann::json;

namespace {

std::string value_text(double v, const std::string& unit) {
  return unit == "bytes" ? format_bytes(v) : format_duration_s(v);
}

std::string tolerance_text(double t) {
  return "±" + format_percent(t);
}

std::string steps_text(const Comparison& c) {
  std::string s = fmt::format("{} step{} averaged", c.steps_used.size(), c.steps_used.size() == 1 ? "" : "s");
  if (c.steps_skipped > 0)
    s += fmt::format(" after {} warm-up step{}", c.steps_skipped, c.steps_skipped == 1 ? "" : "s");
  return s;
}

std::string ranks_text(const Comparison& c) {
  std::set<std::int32_t> predicted;
  for (const auto& [m, p] : c.rank_map) predicted.insert(p);
  return fmt::format("{} measured rank{} mapped to {} predicted", c.rank_map.size(), c.rank_map.size() == 1 ? "" : "s",
                     predicted.size());
}

std::size_t checks_passed(const Comparison& c) {
  return static_cast<std::size_t>(
      std::count_if(c.checks.begin(), c.checks.end(), [](const Check& k) { return k.passed; }));
}

std::size_t op_rows(const Comparison& c, const RenderOptions& options) {
  return options.max_op_rows == 0 ? c.ops.size() : std::min(c.ops.size(), options.max_op_rows);
}

json error_json(double e) {
  return std::isfinite(e) ? json(e) : json(nullptr);
}

json metric_json(const MetricComparison& m) {
  return {{"name", m.name}, {"predicted", m.predicted}, {"measured", m.measured}, {"error", error_json(m.error)}};
}

// Markdown table cell: pipes and line breaks would break the row.
std::string md(std::string_view text) {
  std::string out;
  for (char ch : text) {
    if (ch == '|')
      out += "\\|";
    else if (ch == '\n' || ch == '\r')
      out += ' ';
    else
      out += ch;
  }
  return out;
}

}  // namespace

void write_comparison_table(const Comparison& c, std::ostream& out, const RenderOptions& options) {
  const Style style{options.color};
  out << style.bold("Predicted vs measured" + (c.scenario.empty() ? std::string() : ": " + c.scenario)) << '\n';
  {
    TextTable t({Align::left, Align::left});
    if (!c.hardware.empty()) t.add({"hardware", c.hardware});
    t.add({"predicted", c.predicted_backend});
    t.add({"measured", c.measured_backend});
    t.add({"steps", steps_text(c)});
    t.add({"ranks", ranks_text(c)});
    t.write(out);
  }
  out << '\n'
      << style.bold("Result: ") << (c.passed ? style.green("PASS") : style.red("FAIL"))
      << fmt::format(" ({} of {} checks within tolerance)\n", checks_passed(c), c.checks.size());
  {
    TextTable t({Align::left, Align::right, Align::right, Align::right, Align::right, Align::left});
    t.add({"check", "predicted", "measured", "error", "tolerance", "result"});
    for (const auto& k : c.checks)
      t.add({k.name, value_text(k.predicted, k.unit), value_text(k.measured, k.unit), format_error_percent(k.error),
             tolerance_text(k.tolerance), k.passed ? style.green("pass") : style.red("FAIL")});
    t.write(out);
  }
  out << '\n' << style.bold("Time per step and rank") << '\n';
  {
    TextTable t({Align::left, Align::right, Align::right, Align::right});
    t.add({"", "predicted", "measured", "error"});
    t.add({c.step_time.name, format_duration_s(c.step_time.predicted), format_duration_s(c.step_time.measured),
           format_error_percent(c.step_time.error)});
    for (const auto& m : c.classes)
      t.add({m.name, format_duration_s(m.predicted), format_duration_s(m.measured), format_error_percent(m.error)});
    for (const auto& m : c.comm_groups)
      t.add({"comm " + m.name + " transfer", format_duration_s(m.predicted), format_duration_s(m.measured),
             format_error_percent(m.error)});
    for (const auto& m : c.comm_waits)
      t.add({"comm " + m.name + " wait", format_duration_s(m.predicted), format_duration_s(m.measured),
             format_error_percent(m.error)});
    t.write(out);
  }
  if (!c.memory.empty()) {
    out << '\n' << style.bold("Peak memory") << '\n';
    TextTable t({Align::right, Align::right, Align::right, Align::right, Align::right});
    t.add({"rank", "as predicted", "predicted", "measured", "error"});
    // The worst ranks first when there are more than fit.
    std::vector<RankMemoryComparison> rows = c.memory;
    const std::size_t limit = options.max_rank_rows == 0 ? rows.size() : std::min(rows.size(), options.max_rank_rows);
    if (limit < rows.size())
      std::stable_sort(rows.begin(), rows.end(), [](const auto& a, const auto& b) {
        return (std::isfinite(a.error) ? std::fabs(a.error) : 1e300) >
               (std::isfinite(b.error) ? std::fabs(b.error) : 1e300);
      });
    for (std::size_t i = 0; i < limit; ++i)
      t.add({std::to_string(rows[i].measured_rank), std::to_string(rows[i].predicted_rank),
             format_bytes(rows[i].predicted_bytes), format_bytes(rows[i].measured_bytes),
             format_error_percent(rows[i].error)});
    t.write(out);
    if (limit < rows.size()) out << fmt::format("  ... {} more ranks\n", rows.size() - limit);
  }
  const std::size_t n_ops = op_rows(c, options);
  if (n_ops > 0) {
    out << '\n'
        << style.bold("Ops with the largest absolute error")
        << fmt::format(" ({} of {}, mean per occurrence)\n", n_ops, c.ops.size());
    TextTable t({Align::right, Align::right, Align::left, Align::left, Align::right, Align::right, Align::right});
    t.add({"prog", "op", "name", "class", "predicted", "measured", "error"});
    for (std::size_t i = 0; i < n_ops; ++i) {
      const auto& o = c.ops[i];
      t.add({std::to_string(o.program), std::to_string(o.op), o.name, o.op_class, format_duration_ns(o.predicted_ns),
             format_duration_ns(o.measured_ns), format_error_percent(o.error)});
    }
    t.write(out);
  }
  if (c.ops_only_predicted > 0 || c.ops_only_measured > 0)
    out << fmt::format("  {} op(s) only in the prediction, {} only in the measurement\n", c.ops_only_predicted,
                       c.ops_only_measured);
}

json comparison_json(const Comparison& c) {
  json j;
  j["schema"] = kComparisonSchema;
  j["scenario"] = c.scenario;
  j["hardware"] = c.hardware;
  j["predicted_backend"] = c.predicted_backend;
  j["measured_backend"] = c.measured_backend;
  j["passed"] = c.passed;
  j["options"] = {
      {"warmup_steps", c.options.warmup_steps},         {"step_time_tolerance", c.options.step_time_tolerance},
      {"memory_tolerance", c.options.memory_tolerance}, {"comm_tolerance", c.options.comm_tolerance},
      {"comm_min_share", c.options.comm_min_share},     {"op_by_op", c.options.op_by_op}};
  j["steps_used"] = c.steps_used;
  j["steps_skipped"] = c.steps_skipped;
  json rank_map = json::array();
  for (const auto& [m, p] : c.rank_map) rank_map.push_back({m, p});
  j["rank_map"] = std::move(rank_map);
  j["step_time"] = metric_json(c.step_time);
  json classes = json::array();
  for (const auto& m : c.classes) classes.push_back(metric_json(m));
  j["classes"] = std::move(classes);
  json memory = json::array();
  for (const auto& m : c.memory)
    memory.push_back({{"measured_rank", m.measured_rank},
                      {"predicted_rank", m.predicted_rank},
                      {"predicted_bytes", m.predicted_bytes},
                      {"measured_bytes", m.measured_bytes},
                      {"error", error_json(m.error)}});
  j["memory"] = std::move(memory);
  json groups = json::array();
  for (const auto& m : c.comm_groups) groups.push_back(metric_json(m));
  j["comm_groups"] = std::move(groups);
  json waits = json::array();
  for (const auto& m : c.comm_waits) waits.push_back(metric_json(m));
  j["comm_waits"] = std::move(waits);
  json ops = json::array();
  for (const auto& o : c.ops)
    ops.push_back({{"program", o.program},
                   {"op", o.op},
                   {"name", o.name},
                   {"class", o.op_class},
                   {"predicted_ns", o.predicted_ns},
                   {"measured_ns", o.measured_ns},
                   {"error", error_json(o.error)}});
  j["ops"] = std::move(ops);
  j["ops_only_predicted"] = c.ops_only_predicted;
  j["ops_only_measured"] = c.ops_only_measured;
  json checks = json::array();
  for (const auto& k : c.checks)
    checks.push_back({{"name", k.name},
                      {"unit", k.unit},
                      {"predicted", k.predicted},
                      {"measured", k.measured},
                      {"error", error_json(k.error)},
                      {"tolerance", k.tolerance},
                      {"passed", k.passed}});
  j["checks"] = std::move(checks);
  return j;
}

void write_comparison_json(const Comparison& c, std::ostream& out, const RenderOptions& /*options*/) {
  out << comparison_json(c).dump(2, ' ', false, json::error_handler_t::replace) << '\n';
}

void write_comparison_markdown(const Comparison& c, std::ostream& out, const RenderOptions& options) {
  out << "# Predicted vs measured" << (c.scenario.empty() ? std::string() : ": " + md(c.scenario)) << "\n\n";
  if (!c.hardware.empty()) out << "- hardware: " << md(c.hardware) << '\n';
  out << "- predicted: `" << c.predicted_backend << "`, measured: `" << c.measured_backend << "`\n";
  out << "- " << steps_text(c) << "; " << ranks_text(c) << "\n\n";
  out << "**Result: " << (c.passed ? "PASS" : "FAIL") << "** ("
      << fmt::format("{} of {} checks within tolerance)\n\n", checks_passed(c), c.checks.size());
  out << "| check | predicted | measured | error % | tolerance | result |\n|---|---:|---:|---:|---:|---|\n";
  for (const auto& k : c.checks)
    out << "| " << md(k.name) << " | " << value_text(k.predicted, k.unit) << " | " << value_text(k.measured, k.unit)
        << " | " << format_error_percent(k.error) << " | " << tolerance_text(k.tolerance) << " | "
        << (k.passed ? "pass" : "**FAIL**") << " |\n";
  out << "\n## Time per step and rank\n\n| metric | predicted | measured | error % |\n|---|---:|---:|---:|\n";
  const auto row = [&](const std::string& name, double p, double m, double e) {
    out << "| " << md(name) << " | " << format_duration_s(p) << " | " << format_duration_s(m) << " | "
        << format_error_percent(e) << " |\n";
  };
  row(c.step_time.name, c.step_time.predicted, c.step_time.measured, c.step_time.error);
  for (const auto& m : c.classes) row(m.name, m.predicted, m.measured, m.error);
  for (const auto& m : c.comm_groups) row("comm " + m.name + " transfer", m.predicted, m.measured, m.error);
  for (const auto& m : c.comm_waits) row("comm " + m.name + " wait", m.predicted, m.measured, m.error);
  if (!c.memory.empty()) {
    out << "\n## Peak memory\n\n| rank | as predicted | predicted | measured | error % |\n|---:|---:|---:|---:|---:|\n";
    for (const auto& m : c.memory)
      out << "| " << m.measured_rank << " | " << m.predicted_rank << " | " << format_bytes(m.predicted_bytes) << " | "
          << format_bytes(m.measured_bytes) << " | " << format_error_percent(m.error) << " |\n";
  }
  const std::size_t n_ops = op_rows(c, options);
  if (n_ops > 0) {
    out << fmt::format("\n## Ops with the largest absolute error ({} of {})\n\n", n_ops, c.ops.size())
        << "| program | op | name | class | predicted | measured | error % |\n|---:|---:|---|---|---:|---:|---:|\n";
    for (std::size_t i = 0; i < n_ops; ++i) {
      const auto& o = c.ops[i];
      out << "| " << o.program << " | " << o.op << " | " << md(o.name) << " | " << md(o.op_class) << " | "
          << format_duration_ns(o.predicted_ns) << " | " << format_duration_ns(o.measured_ns) << " | "
          << format_error_percent(o.error) << " |\n";
    }
  }
}

namespace {

using ComparisonWriter = void (*)(const Comparison&, std::ostream&, const RenderOptions&);

const std::vector<std::pair<std::string, ComparisonWriter>>& comparison_writers() {
  static const std::vector<std::pair<std::string, ComparisonWriter>> writers{
      {"table", &write_comparison_table}, {"json", &write_comparison_json}, {"markdown", &write_comparison_markdown}};
  return writers;
}

}  // namespace

std::vector<std::string> comparison_format_names() {
  std::vector<std::string> names;
  for (const auto& [name, fn] : comparison_writers()) names.push_back(name);
  return names;
}

void write_comparison(std::string_view format, const Comparison& comparison, std::ostream& out,
                      const RenderOptions& options) {
  for (const auto& [name, fn] : comparison_writers())
    if (name == format) return fn(comparison, out, options);
  std::string allowed = "one of ";
  const auto names = comparison_format_names();
  for (std::size_t i = 0; i < names.size(); ++i) {
    if (i > 0) allowed += (i + 1 == names.size()) ? " or " : ", ";
    allowed += "\"" + names[i] + "\"";
  }
  throw InputError("format", "\"" + std::string(format) + "\"", allowed);
}

}  // namespace clustersim::reports
