// The machine-readable report (`--format json`), schema "clustersim.report/1". Stable keys; every
// quantity carries its unit in its name. Layout:
//   { "schema": "clustersim.report/1",
//     "title": str, "facts": { name: value, ... },            // ReportContext (values are strings)
//     "scenario": str, "hardware": str, "backend": str, "source": "simulated" | "measured",
//     "summary": { step_time_s, tokens_per_s, samples_per_s, model_flops_per_step, mfu, hfu,
//                  compute_time_s, comm_time_s, exposed_comm_s, bubble_fraction, bubble_time_s,
//                  peak_memory_bytes, capacity_bytes, memory_margin_bytes, fits, critical_rank,
//                  steps, skipped_steps, loss_scale, final_loss (null when none), events, wall_time_s },
//     "memory": [ { rank, program, program_name, peak_bytes, peak_time_ns, capacity_bytes,
//                   margin_bytes, fits, persistent_bytes, measured_resident_bytes,
//                   by_role: { role: bytes at peak }, role_peak: { role: own max bytes },
//                   timeline: [[t_ns, bytes], ...]        // only with RenderOptions::include_timeline
//                 } ],
//     "ranks": [ { rank, program, program_name, compute_busy_s, idle_s, comm_time_s,
//                  exposed_comm_s, step_window_s } ],      // per step, averaged (see analysis.hpp)
//     "comm": [ { group, type, count, bytes, time_s, exposed_s } ],  // per step, one rank
//     "losses": [ ... ],                                  // measured runs only, else empty
//     "ops": [ { rank, op, stream, step, start_ns, end_ns } ]  // only with include_timeline
//   }
// Roles are named as in the Trace schema ("weight", "optimizer_state", ...).
#pragma once

#include <ostream>

#include <nlohmann/json.hpp>

#include "clustersim/plan/trace.hpp"
#include "clustersim/reports/context.hpp"

namespace clustersim::reports {

inline constexpr const char* kReportSchema = "clustersim.report/1";

nlohmann::json report_json(const plan::Trace& trace, const ReportContext& context, const RenderOptions& options = {});

// report_json(...) written with two-space indentation and a final line break.
void write_json_report(const plan::Trace& trace, const ReportContext& context, std::ostream& out,
                       const RenderOptions& options = {});

}  // namespace clustersim::reports
