// comparison_from_json: the inverse of reports::comparison_json, read strictly where it matters
// (schema, checks, classes) and leniently for optional parts.
#include "core/comparison_json.hpp"

#include <limits>
#include <string>

#include "clustersim/plan/error.hpp"
#include "clustersim/plan/json.hpp"

namespace clustersim::gui {

using nlohmann::json;

namespace {

const json& need(const json& j, const char* key, const std::string& path) {
  if (!j.is_object() || !j.contains(key)) throw InputError(path + "." + key, "missing", "a value");
  return j.at(key);
}

double number(const json& j, const char* key, const std::string& path) {
  const json& v = need(j, key, path);
  if (v.is_null()) return std::numeric_limits<double>::infinity();
  if (!v.is_number()) throw InputError(path + "." + key, plan::describe_value(v), "a number");
  return v.get<double>();
}

std::string text(const json& j, const char* key, const std::string& path) {
  const json& v = need(j, key, path);
  if (!v.is_string()) throw InputError(path + "." + key, plan::describe_value(v), "a string");
  return v.get<std::string>();
}

std::string text_or(const json& j, const char* key) {
  return j.is_object() && j.contains(key) && j.at(key).is_string() ? j.at(key).get<std::string>() : std::string();
}

reports::MetricComparison metric(const json& j, const std::string& path) {
  reports::MetricComparison m;
  m.name = text(j, "name", path);
  m.predicted = number(j, "predicted", path);
  m.measured = number(j, "measured", path);
  m.error = number(j, "error", path);
  return m;
}

const json& array(const json& j, const char* key, const std::string& path) {
  const json& v = need(j, key, path);
  if (!v.is_array()) throw InputError(path + "." + key, plan::describe_value(v), "an array");
  return v;
}

}  // namespace

reports::Comparison comparison_from_json(const json& j) {
  const std::string root = "comparison";
  if (!j.is_object()) throw InputError(root, plan::describe_value(j), "a comparison object");
  const std::string schema = text(j, "schema", root);
  if (schema != reports::kComparisonSchema)
    throw InputError(root + ".schema", "\"" + schema + "\"", std::string("\"") + reports::kComparisonSchema + "\"");
  reports::Comparison c;
  c.scenario = text_or(j, "scenario");
  c.hardware = text_or(j, "hardware");
  c.predicted_backend = text_or(j, "predicted_backend");
  c.measured_backend = text_or(j, "measured_backend");
  c.passed = need(j, "passed", root).is_boolean() && j.at("passed").get<bool>();
  if (j.contains("options") && j.at("options").is_object()) {
    const json& o = j.at("options");
    c.options.warmup_steps = o.value("warmup_steps", c.options.warmup_steps);
    c.options.step_time_tolerance = o.value("step_time_tolerance", c.options.step_time_tolerance);
    c.options.memory_tolerance = o.value("memory_tolerance", c.options.memory_tolerance);
    c.options.comm_tolerance = o.value("comm_tolerance", c.options.comm_tolerance);
    c.options.comm_min_share = o.value("comm_min_share", c.options.comm_min_share);
    c.options.op_by_op = o.value("op_by_op", c.options.op_by_op);
  }
  if (j.contains("steps_used") && j.at("steps_used").is_array())
    for (const auto& s : j.at("steps_used")) c.steps_used.push_back(s.get<std::int32_t>());
  c.steps_skipped = j.value("steps_skipped", 0);
  if (j.contains("rank_map") && j.at("rank_map").is_array())
    for (const auto& p : j.at("rank_map"))
      if (p.is_array() && p.size() == 2) c.rank_map.emplace_back(p[0].get<std::int32_t>(), p[1].get<std::int32_t>());
  c.step_time = metric(need(j, "step_time", root), root + ".step_time");
  const json& classes = array(j, "classes", root);
  for (std::size_t i = 0; i < classes.size(); ++i)
    c.classes.push_back(metric(classes[i], root + ".classes." + std::to_string(i)));
  if (j.contains("comm_groups") && j.at("comm_groups").is_array()) {
    const json& g = j.at("comm_groups");
    for (std::size_t i = 0; i < g.size(); ++i)
      c.comm_groups.push_back(metric(g[i], root + ".comm_groups." + std::to_string(i)));
  }
  if (j.contains("memory") && j.at("memory").is_array()) {
    for (const auto& m : j.at("memory")) {
      reports::RankMemoryComparison r;
      r.measured_rank = m.value("measured_rank", 0);
      r.predicted_rank = m.value("predicted_rank", 0);
      r.predicted_bytes = m.value("predicted_bytes", std::int64_t{0});
      r.measured_bytes = m.value("measured_bytes", std::int64_t{0});
      r.error = m.contains("error") && m.at("error").is_number() ? m.at("error").get<double>()
                                                                 : std::numeric_limits<double>::infinity();
      c.memory.push_back(r);
    }
  }
  if (j.contains("ops") && j.at("ops").is_array()) {
    for (const auto& o : j.at("ops")) {
      reports::OpComparison r;
      r.program = o.value("program", 0);
      r.op = o.value("op", 0);
      r.name = o.value("name", std::string());
      r.op_class = o.value("class", std::string());
      r.predicted_ns = o.value("predicted_ns", 0.0);
      r.measured_ns = o.value("measured_ns", 0.0);
      r.error = o.contains("error") && o.at("error").is_number() ? o.at("error").get<double>()
                                                                 : std::numeric_limits<double>::infinity();
      c.ops.push_back(r);
    }
  }
  c.ops_only_predicted = j.value("ops_only_predicted", std::int64_t{0});
  c.ops_only_measured = j.value("ops_only_measured", std::int64_t{0});
  const json& checks = array(j, "checks", root);
  for (std::size_t i = 0; i < checks.size(); ++i) {
    const std::string path = root + ".checks." + std::to_string(i);
    reports::Check k;
    k.name = text(checks[i], "name", path);
    k.unit = text_or(checks[i], "unit");
    k.predicted = number(checks[i], "predicted", path);
    k.measured = number(checks[i], "measured", path);
    k.error = number(checks[i], "error", path);
    k.tolerance = number(checks[i], "tolerance", path);
    const json& passed = need(checks[i], "passed", path);
    if (!passed.is_boolean()) throw InputError(path + ".passed", plan::describe_value(passed), "true or false");
    k.passed = passed.get<bool>();
    c.checks.push_back(k);
  }
  return c;
}

}  // namespace clustersim::gui
