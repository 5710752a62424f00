// Strict reading of user JSON: every access knows its JSON path, every type or range problem throws
// InputError(path, value, allowed), and keys nobody read are reported with a "did you mean".
// Used for scenarios, catalogs, profiles, sweeps and traces.
//
//   ObjectReader r(j, "training");
//   int mb = r.integer("micro_batch", 1, 1 << 20);          // required, range-checked
//   double p = r.number_or("dropout", 0.0, 0.0, 1.0);        // optional with a documented default
//   r.finish();                                              // unknown keys -> InputError
#pragma once

#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "clustersim/plan/error.hpp"
#include "clustersim/plan/types.hpp"

namespace clustersim {

// Levenshtein distance, for "did you mean".
std::size_t edit_distance(std::string_view a, std::string_view b);
// The closest candidate within a small distance, or "" when nothing is close.
std::string closest_match(std::string_view word, const std::vector<std::string>& candidates);

class ObjectReader {
 public:
  // Throws InputError when `j` is not an object.
  ObjectReader(const nlohmann::json& j, std::string path);

  const std::string& path() const { return path_; }
  std::string child_path(std::string_view key) const;
  bool has(std::string_view key) const;
  // Raw access (marks the key as read); throws when missing.
  const nlohmann::json& at(std::string_view key);
  const nlohmann::json* find(std::string_view key);

  std::int64_t integer(std::string_view key, std::int64_t min, std::int64_t max);
  std::int64_t integer_or(std::string_view key, std::int64_t fallback, std::int64_t min, std::int64_t max);
  double number(std::string_view key, double min, double max);
  double number_or(std::string_view key, double fallback, double min, double max);
  bool boolean(std::string_view key);
  bool boolean_or(std::string_view key, bool fallback);
  std::string string(std::string_view key);
  std::string string_or(std::string_view key, std::string fallback);
  // String restricted to `choices`.
  std::string choice(std::string_view key, const std::vector<std::string>& choices);
  std::string choice_or(std::string_view key, std::string fallback, const std::vector<std::string>& choices);

  template <typename E>
  E enumeration(std::string_view key) {
    return parse_enum<E>(string(key), child_path(key));
  }
  template <typename E>
  E enumeration_or(std::string_view key, E fallback) {
    return has(key) ? enumeration<E>(key) : fallback;
  }

  // Marks keys as known without reading them (read elsewhere).
  void accept(std::string_view key);
  // Throws InputError for the first key that was never read or accepted, with a "did you mean".
  void finish() const;

 private:
  const nlohmann::json& j_;
  std::string path_;
  std::set<std::string, std::less<>> read_;
};

// Value checks shared by readers (throw InputError with `path`).
std::int64_t as_integer(const nlohmann::json& v, const std::string& path, std::int64_t min, std::int64_t max);
double as_number(const nlohmann::json& v, const std::string& path, double min, double max);
std::string as_string(const nlohmann::json& v, const std::string& path);

}  // namespace clustersim
