// Editing scenario JSON before it is parsed: `--set path=value` overrides, dot-path assignment for
// sweeps and the GUI, and reading scenario files (comments allowed) with errors that name the file,
// the line and the column.
#include <algorithm>
#include <cctype>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "clustersim/models/scenario.hpp"
#include "clustersim/plan/json.hpp"

namespace clustersim::models {

using nlohmann::json;

namespace {

constexpr const char* kPathExample =
    "a dot path of keys and array indices, e.g. training.micro_batch or cluster.stragglers.0.rank";

// Keys whose value may be a preset name: descending below one turns it into {"preset": name}.
bool preset_key(const std::string& key) {
  return key == "gpu" || key == "intra_node" || key == "host_link" || key == "link" || key == "architecture";
}

bool is_index(const std::string& s) {
  return !s.empty() && s.size() <= 9 &&
         std::all_of(s.begin(), s.end(), [](unsigned char c) { return std::isdigit(c); });
}

const char* type_name(const json& j) {
  switch (j.type()) {
    case json::value_t::null:
      return "null";
    case json::value_t::object:
      return "an object";
    case json::value_t::array:
      return "an array";
    case json::value_t::string:
      return "a string";
    case json::value_t::boolean:
      return "a boolean";
    default:
      return "a number";
  }
}

std::vector<std::string> split_path(const std::string& dot_path) {
  std::vector<std::string> out;
  std::size_t start = 0;
  while (true) {
    const auto dot = dot_path.find('.', start);
    out.push_back(dot_path.substr(start, dot == std::string::npos ? std::string::npos : dot - start));
    if (dot == std::string::npos) break;
    start = dot + 1;
  }
  return out;
}

std::string trim(const std::string& s) {
  const auto b = s.find_first_not_of(" \t\r\n");
  if (b == std::string::npos) return "";
  const auto e = s.find_last_not_of(" \t\r\n");
  return s.substr(b, e - b + 1);
}

}  // namespace

void set_path(json& j, const std::string& dot_path, const json& value) {
  const std::vector<std::string> segments = split_path(dot_path);
  for (const auto& s : segments)
    if (s.empty()) throw InputError(dot_path.empty() ? "(empty path)" : dot_path, "\"" + dot_path + "\"", kPathExample);
  if (j.is_null()) j = json::object();
  json* cur = &j;
  std::string walked;
  for (std::size_t i = 0; i < segments.size(); ++i) {
    const std::string& seg = segments[i];
    const bool last = i + 1 == segments.size();
    if (i > 0 && cur->is_string() && preset_key(segments[i - 1])) *cur = json{{"preset", cur->get<std::string>()}};
    if (cur->is_null()) *cur = is_index(seg) ? json::array() : json::object();
    const std::string here = walked.empty() ? seg : walked + "." + seg;
    if (cur->is_array()) {
      if (!is_index(seg))
        throw InputError(
            here, "\"" + seg + "\" (" + (walked.empty() ? std::string("the document") : walked) + " is an array)",
            "an array index from 0 to " + std::to_string(cur->size()) + " (the size appends)");
      const std::size_t idx = std::stoul(seg);
      if (idx > cur->size())
        throw InputError(here, seg, "an array index from 0 to " + std::to_string(cur->size()) + " (the size appends)");
      if (last) {
        if (value.is_null()) {
          if (idx < cur->size()) cur->erase(idx);
        } else if (idx == cur->size()) {
          cur->push_back(value);
        } else {
          (*cur)[idx] = value;
        }
        return;
      }
      if (idx == cur->size()) cur->push_back(json());
      cur = &(*cur)[idx];
    } else if (cur->is_object()) {
      if (last) {
        if (value.is_null()) {
          cur->erase(seg);
        } else {
          (*cur)[seg] = value;
        }
        return;
      }
      cur = &(*cur)[seg];
    } else {
      throw InputError(walked, std::string(type_name(*cur)) + " " + plan::describe_value(*cur),
                       "an object or array to descend into with \"" + seg + "\" (the path " + dot_path +
                           " goes through " + walked + ", which holds no keys)");
    }
    walked = here;
  }
}

void apply_override(json& j, const std::string& assignment) {
  const auto eq = assignment.find('=');
  const std::string path = eq == std::string::npos ? std::string() : trim(assignment.substr(0, eq));
  if (eq == std::string::npos || path.empty())
    throw InputError("--set", "\"" + assignment + "\"",
                     "path=value, e.g. training.micro_batch=4, cluster.gpu=H100-SXM-80GB or parallelism.sp=true");
  const std::string text = trim(assignment.substr(eq + 1));
  json value;
  try {
    value = json::parse(text);
  } catch (const json::parse_error&) {
    value = text;  // not JSON: a bare string such as H100-SXM-80GB
  } catch (const json::out_of_range&) {
    throw InputError(path, text + " in the override \"" + assignment + "\"",
                     "a number a double can hold (magnitude below about 1.8e308)");
  }
  try {
    set_path(j, path, value);
  } catch (const InputError& e) {
    throw InputError(e.json_path(), e.value() + " in the override \"" + assignment + "\"", e.allowed());
  }
}

json load_scenario_json(const std::string& path) {
  std::error_code ec;
  const std::filesystem::path file(path);
  if (!std::filesystem::exists(file, ec))
    throw InputError(path, "a file that does not exist", "the path of a scenario JSON file");
  if (std::filesystem::is_directory(file, ec))
    throw InputError(path, "a directory", "the path of a scenario JSON file");
  std::ifstream in(file, std::ios::binary);
  if (!in)
    throw InputError(path, "a file that cannot be opened (check its permissions)", "a readable scenario JSON file");
  const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  try {
    return json::parse(text, nullptr, true, /*ignore_comments=*/true);
  } catch (const json::parse_error& e) {
    // Line and column of the byte where parsing stopped (e.byte is 1-based).
    std::size_t line = 1, column = 1;
    const std::size_t stop = std::min<std::size_t>(e.byte > 0 ? e.byte - 1 : 0, text.size());
    for (std::size_t i = 0; i < stop; ++i) {
      if (text[i] == '\n') {
        ++line;
        column = 1;
      } else {
        ++column;
      }
    }
    std::string what = e.what();
    const auto colon = what.find(": ");
    if (colon != std::string::npos) what = what.substr(colon + 2);
    throw InputError(
        path, "invalid JSON at line " + std::to_string(line) + ", column " + std::to_string(column) + " (" + what + ")",
        "a JSON document (comments allowed)");
  } catch (const json::exception& e) {
    // A number too large for a double (e.g. 1e999).
    throw InputError(path, "unreadable JSON (" + std::string(e.what()) + ")",
                     "a JSON document whose numbers a double can hold");
  }
}

}  // namespace clustersim::models
