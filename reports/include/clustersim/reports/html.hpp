// A self-contained HTML report (`clustersim report --html`, results committed under
// reports/results/): one file with inline CSS and inline SVG, no scripts and no network access.
// Sections: title and facts; summary figures (step time, throughput, MFU/HFU, memory verdict, time
// breakdown); memory at peak per rank as stacked bars by role against capacity; a timeline Gantt
// per rank and stream (one <rect class="op"> per op span, colored by op class, with a <title>
// tooltip; adjacent spans of one class closer than a pixel are merged when the trace holds more
// than HtmlOptions::max_timeline_rects spans); communication per (group, type) as bars of time
// with the exposed part darker; and, when a Comparison is given, predicted vs measured bars per op
// class, the checks and the error tables. Every text from the trace or the context is escaped.
#pragma once

#include <cstddef>
#include <ostream>

#include "clustersim/plan/trace.hpp"
#include "clustersim/reports/compare.hpp"
#include "clustersim/reports/context.hpp"

namespace clustersim::reports {

struct HtmlOptions {
  std::size_t max_timeline_rects = 20000;  // op rects drawn before spans are merged
  std::size_t max_timeline_rows = 64;      // (rank, stream) rows drawn; the rest are summarised
  std::size_t max_memory_rows = 32;        // ranks in the memory chart (highest peaks first)
  int width_px = 1100;                     // chart width
};

void write_html_report(const plan::Trace& trace, const ReportContext& context, std::ostream& out,
                       const Comparison* comparison = nullptr, const HtmlOptions& options = {});

}  // namespace clustersim::reports
