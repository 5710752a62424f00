// One CSV row per trace (`--format csv`, and `clustersim sweep`, which appends a row per point).
// csv_header() and csv_row() always produce the same columns, in this order:
//   [extra columns...], title, scenario, hardware, backend, source, steps, step_time_s,
//   tokens_per_s, samples_per_s, model_flops_per_step, mfu, hfu, compute_time_s, comm_time_s,
//   exposed_comm_s, bubble_fraction, peak_memory_bytes, capacity_bytes, memory_margin_bytes, fits,
//   critical_rank, recorded_ranks, skipped_steps, final_loss, loss_scale, events, wall_time_s,
//   then <role>_bytes for every TensorRole (breakdown at the peak of the rank with the highest peak).
// Numbers are written in the shortest form that reads back exactly; booleans as true/false; a
// missing final loss as an empty field. The table reporter's facts become extra columns in the
// "csv" reporter, so `--format csv` is self-describing; sweeps pass their own parameters instead.
#pragma once

#include <ostream>
#include <string>
#include <utility>
#include <vector>

#include "clustersim/plan/trace.hpp"
#include "clustersim/reports/context.hpp"

namespace clustersim::reports {

// (column name, value) pairs placed before the standard columns.
using CsvColumns = std::vector<std::pair<std::string, std::string>>;

// Column names: the names of `extra`, then the standard columns above.
std::vector<std::string> csv_columns(const CsvColumns& extra = {});
// The header line (escaped, comma-separated, no line break).
std::string csv_header(const CsvColumns& extra = {});
// The values line matching csv_header(extra) (no line break).
std::string csv_row(const plan::Trace& trace, const ReportContext& context, const CsvColumns& extra = {});

// Header and row, each followed by a line break; the context's facts are the extra columns.
void write_csv_report(const plan::Trace& trace, const ReportContext& context, std::ostream& out,
                      const RenderOptions& options = {});

}  // namespace clustersim::reports
