// File exports of the current prediction that need no widgets: the Chrome / Perfetto trace
// (reports::write_chrome_trace) and the trace itself in the clustersim schema.
#pragma once

#include <QString>

#include "clustersim/plan/trace.hpp"

namespace clustersim::gui {

// Writes `trace` in the Chrome trace event format. Returns an error message, empty on success.
QString export_chrome_trace(const plan::Trace& trace, const QString& path);
// Writes `trace` as "clustersim.trace/1" JSON (plan::write_json_file). Error message or empty.
QString export_trace_json(const plan::Trace& trace, const QString& path);

}  // namespace clustersim::gui
