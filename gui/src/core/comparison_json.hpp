// Reads a "clustersim.comparison/1" document (what reports::comparison_json writes and
// `clustersim validate --format json` prints) back into a reports::Comparison, so the Validation
// view can show a comparison produced by a separate validate process. Null errors (non-finite in
// the writer) come back as +infinity. InputError naming the JSON path on malformed input.
#pragma once

#include <nlohmann/json.hpp>

#include "clustersim/reports/compare.hpp"

namespace clustersim::gui {

reports::Comparison comparison_from_json(const nlohmann::json& j);

}  // namespace clustersim::gui
