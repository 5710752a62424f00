// JSON (de)serialisation of the Plan, the Hardware and the Trace. Readers check every field and
// throw InputError naming the JSON path, so a hand-edited or truncated trace gives a clear message.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

#include "clustersim/plan/hardware.hpp"
#include "clustersim/plan/plan.hpp"
#include "clustersim/plan/trace.hpp"

namespace clustersim::plan {

nlohmann::json to_json(const Plan& plan);
nlohmann::json to_json(const Hardware& hardware);
nlohmann::json to_json(const GpuSpec& gpu);
nlohmann::json to_json(const LinkSpec& link);
nlohmann::json to_json(const Trace& trace);
nlohmann::json to_json(const Summary& summary);
// An op's parameters as the plan file writes them (the "params" object of an op).
nlohmann::json to_json(const OpParams& params);

Plan plan_from_json(const nlohmann::json& j);
Trace trace_from_json(const nlohmann::json& j);

// Reads a trace file (the "clustersim.trace/1" schema); InputError on unreadable or invalid files.
Trace read_trace_file(const std::string& path);
// Writes atomically (temporary file, then rename) so a failed run never leaves half a file.
void write_json_file(const std::string& path, const nlohmann::json& j, int indent = -1);

// Reads a JSON file; InputError naming the file and the parse position on failure.
nlohmann::json read_json_file(const std::string& path);

// Human-readable JSON value for error messages, shortened to `max_chars`.
std::string describe_value(const nlohmann::json& value, std::size_t max_chars = 60);

}  // namespace clustersim::plan
