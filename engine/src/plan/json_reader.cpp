// Strict JSON reading with paths; see json_reader.hpp.
#include "clustersim/plan/json_reader.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

#include "clustersim/plan/json.hpp"

namespace clustersim {

using nlohmann::json;

std::size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<std::size_t> prev(b.size() + 1), cur(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j) prev[j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    cur[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      const std::size_t sub = prev[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1);
      cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, sub});
    }
    std::swap(prev, cur);
  }
  return prev[b.size()];
}

std::string closest_match(std::string_view word, const std::vector<std::string>& candidates) {
  std::string best;
  std::size_t best_d = std::numeric_limits<std::size_t>::max();
  for (const auto& c : candidates) {
    const std::size_t d = edit_distance(word, c);
    if (d < best_d) {
      best_d = d;
      best = c;
    }
  }
  const std::size_t limit = std::max<std::size_t>(2, word.size() / 3);
  return best_d <= limit ? best : std::string();
}

std::int64_t as_integer(const json& v, const std::string& path, std::int64_t min, std::int64_t max) {
  const std::string range = "an integer from " + std::to_string(min) + " to " + std::to_string(max);
  std::int64_t x = 0;
  if (v.is_number_integer()) {
    x = v.get<std::int64_t>();
  } else if (v.is_number_float()) {
    const double d = v.get<double>();
    if (!std::isfinite(d) || d != std::floor(d) || std::fabs(d) > 9e15)
      throw InputError(path, plan::describe_value(v), range);
    x = static_cast<std::int64_t>(d);
  } else {
    throw InputError(path, plan::describe_value(v), range);
  }
  if (x < min || x > max) throw InputError(path, plan::describe_value(v), range);
  return x;
}

double as_number(const json& v, const std::string& path, double min, double max) {
  std::string range = "a number";
  if (std::isfinite(min) && std::isfinite(max)) {
    range += " from " + plan::describe_value(json(min)) + " to " + plan::describe_value(json(max));
  } else if (std::isfinite(min)) {
    range += " >= " + plan::describe_value(json(min));
  } else if (std::isfinite(max)) {
    range += " <= " + plan::describe_value(json(max));
  }
  if (!v.is_number()) throw InputError(path, plan::describe_value(v), range);
  const double x = v.get<double>();
  if (!std::isfinite(x) || x < min || x > max) throw InputError(path, plan::describe_value(v), range);
  return x;
}

std::string as_string(const json& v, const std::string& path) {
  if (!v.is_string()) throw InputError(path, plan::describe_value(v), "a string");
  return v.get<std::string>();
}

ObjectReader::ObjectReader(const json& j, std::string path) : j_(j), path_(std::move(path)) {
  if (!j_.is_object()) throw InputError(path_.empty() ? "(top level)" : path_, plan::describe_value(j_), "an object");
}

std::string ObjectReader::child_path(std::string_view key) const {
  return path_.empty() ? std::string(key) : path_ + "." + std::string(key);
}

bool ObjectReader::has(std::string_view key) const {
  const_cast<ObjectReader*>(this)->read_.insert(std::string(key));
  return j_.contains(key);
}

const json* ObjectReader::find(std::string_view key) {
  read_.insert(std::string(key));
  const auto it = j_.find(key);
  return it == j_.end() ? nullptr : &*it;
}

const json& ObjectReader::at(std::string_view key) {
  const json* v = find(key);
  if (v == nullptr) throw InputError(child_path(key), "nothing (the key is missing)", "a value is required here");
  return *v;
}

std::int64_t ObjectReader::integer(std::string_view key, std::int64_t min, std::int64_t max) {
  return as_integer(at(key), child_path(key), min, max);
}
std::int64_t ObjectReader::integer_or(std::string_view key, std::int64_t fallback, std::int64_t min, std::int64_t max) {
  const json* v = find(key);
  return v == nullptr ? fallback : as_integer(*v, child_path(key), min, max);
}
double ObjectReader::number(std::string_view key, double min, double max) {
  return as_number(at(key), child_path(key), min, max);
}
double ObjectReader::number_or(std::string_view key, double fallback, double min, double max) {
  const json* v = find(key);
  return v == nullptr ? fallback : as_number(*v, child_path(key), min, max);
}
bool ObjectReader::boolean(std::string_view key) {
  const json& v = at(key);
  if (!v.is_boolean()) throw InputError(child_path(key), plan::describe_value(v), "true or false");
  return v.get<bool>();
}
bool ObjectReader::boolean_or(std::string_view key, bool fallback) { return has(key) ? boolean(key) : fallback; }
std::string ObjectReader::string(std::string_view key) { return as_string(at(key), child_path(key)); }
std::string ObjectReader::string_or(std::string_view key, std::string fallback) {
  return has(key) ? string(key) : fallback;
}

std::string ObjectReader::choice(std::string_view key, const std::vector<std::string>& choices) {
  const std::string s = string(key);
  if (std::find(choices.begin(), choices.end(), s) != choices.end()) return s;
  std::string allowed = "one of ";
  for (std::size_t i = 0; i < choices.size(); ++i) allowed += (i ? ", \"" : "\"") + choices[i] + "\"";
  const std::string hint = closest_match(s, choices);
  if (!hint.empty()) allowed += " (did you mean \"" + hint + "\"?)";
  throw InputError(child_path(key), "\"" + s + "\"", allowed);
}
std::string ObjectReader::choice_or(std::string_view key, std::string fallback, const std::vector<std::string>& choices) {
  return has(key) ? choice(key, choices) : fallback;
}

void ObjectReader::accept(std::string_view key) { read_.insert(std::string(key)); }

void ObjectReader::finish() const {
  for (const auto& [key, value] : j_.items()) {
    if (read_.count(key)) continue;
    std::vector<std::string> known(read_.begin(), read_.end());
    std::string allowed;
    const std::string hint = closest_match(key, known);
    if (!hint.empty()) allowed = "did you mean \"" + hint + "\"? ";
    allowed += "known keys here: ";
    for (std::size_t i = 0; i < known.size(); ++i) allowed += (i ? ", " : "") + known[i];
    throw InputError(child_path(key), "an unknown key", allowed);
  }
}

}  // namespace clustersim
