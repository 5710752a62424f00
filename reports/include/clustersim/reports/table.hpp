// The console report a person reads first after `clustersim predict` (and `clustersim report` on a
// measured trace): header with scenario, hardware and the caller's facts; throughput (step time,
// tokens/s or samples/s, MFU, HFU); memory per GPU (peak vs capacity, fits / DOES NOT FIT with the
// margin, breakdown by role in GiB and % of peak); time breakdown (compute, exposed comm, bubble);
// communication per (group, type); and, for traces of several ranks, one line per rank with its
// program, memory peak and busy time. Aligned plain text, about 40 lines for a typical prediction;
// ANSI colors only when RenderOptions::color is set.
#pragma once

#include <ostream>
#include <string>

#include "clustersim/plan/trace.hpp"
#include "clustersim/reports/context.hpp"

namespace clustersim::reports {

void write_table_report(const plan::Trace& trace, const ReportContext& context, std::ostream& out,
                        const RenderOptions& options = {});

// The title used when ReportContext::title is empty: "clustersim prediction: <scenario>" for a
// simulated trace, "clustersim measurement: <scenario>" for a measured one.
std::string default_title(const plan::Trace& trace);

}  // namespace clustersim::reports
