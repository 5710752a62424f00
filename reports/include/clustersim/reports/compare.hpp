// Predicted vs measured: the check behind `clustersim validate`, the GUI's comparison view and the
// evidence committed under reports/results/. Both traces come from the same plan (same programs,
// same op ids); the measured one may hold several steps and other ranks than the prediction.
//
// Method (every number is "per step", averaged; analysis.hpp defines busy, idle and windows):
//  * Steps: the measured trace's steps in ascending order, the first `warmup_steps` skipped, the
//    rest averaged. Every step of the predicted trace is averaged (a simulation needs no warm-up).
//  * Ranks: each measured rank that has op spans in the steps used is mapped to a predicted rank:
//    the same rank when the prediction recorded it and runs the same program there, else the first
//    predicted rank running the same program (program_of_rank). Averages are over the measured
//    ranks; a predicted value is the mean of those ranks' predicted counterparts, so a prediction
//    of representative ranks compares with a measurement of every rank.
//  * Per op class ("gemm", "attention", "memory", "optimizer", each "comm:<group>:<type>",
//    "p2p:<group>", "io", ...): the time a rank spends in ops of that class (sum of durations).
//    "idle" is the compute stream's idle time in the step window (bubbles, exposed waits).
//  * Step time: the median step window over the steps used (a real step's wall-clock time; the
//    median keeps a step disturbed by other load on a shared machine from moving the check). Peak
//    memory: RankMemory::peak_bytes per measured rank against its predicted counterpart.
//  * Communication per group kind is split into transfer and wait, the same way for both traces,
//    from their communication spans (Trace::comm): the spans of one operation are matched across its
//    members (the k-th collective of a rank on a group id in a step, in start order, with the k-th of
//    every other member; on a two-member group the k-th send a->b with the k-th recv on b), and a
//    span's transfer is its end minus the latest start among them: the operation itself, from the
//    last member's arrival to completion. The wait is the rest of the "comm:<group>:*" and
//    "p2p:<group>" op time: the time a rank spent in the op before its peers arrived (skew, load
//    imbalance, which the step time already carries). comm_groups holds the transfer time, the
//    median over steps of its per-step sum; comm_waits the mean wait. A trace without comm spans
//    counts whole op spans as transfer.
//  * Relative error = (predicted - measured) / measured: positive means the prediction is too high;
//    0 when both are 0, +infinity when only the measurement is 0 (rendered "n/a", JSON null).
//  * Checks (pass/fail): |step time error| <= step_time_tolerance; the worst rank's |peak memory
//    error| <= memory_tolerance; for each group kind whose measured transfer time is at least
//    comm_min_share of the measured step time, |transfer error| <= comm_tolerance.
// Bad input throws InputError: traces of different scenarios, different programs, a measured
// program the prediction has no rank for, too few steps after warm-up, no op spans, malformed spans.
#pragma once

#include <cstdint>
#include <limits>
#include <optional>
#include <ostream>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "clustersim/plan/profile.hpp"
#include "clustersim/plan/trace.hpp"
#include "clustersim/reports/context.hpp"

namespace clustersim::reports {

struct CompareOptions {
  std::int32_t warmup_steps = 1;      // leading measured steps left out
  double step_time_tolerance = 0.10;  // relative
  double memory_tolerance = 0.05;     // relative, worst rank
  double comm_tolerance = 0.15;       // relative, per group kind
  double comm_min_share = 0.01;       // group kinds below this share of the step time are not checked
  bool op_by_op = true;               // fill Comparison::ops
  // The machine probe of the calibration the prediction used (plan::CalibrationProfile::probe).
  // With it and a measured trace that has extra.machine_probe {before, after}, two more checks
  // ("machine: all-reduce probe", "machine: GEMM probe"): the run's probe furthest from the
  // calibration's, within machine_tolerance. Beyond it the machine changed between calibration
  // and run, and the other checks do not say whether the model holds.
  std::optional<plan::MachineProbe> calibration_probe;
  double machine_tolerance = 0.25;
};

// (predicted - measured) / measured with the conventions above.
double relative_error(double predicted, double measured);

// One compared quantity. Times in seconds per step unless the name says otherwise.
struct MetricComparison {
  std::string name;
  double predicted = 0.0;
  double measured = 0.0;
  double error = 0.0;  // relative_error(predicted, measured)
};

struct RankMemoryComparison {
  std::int32_t measured_rank = 0;
  std::int32_t predicted_rank = 0;
  std::int64_t predicted_bytes = 0;
  std::int64_t measured_bytes = 0;
  double error = 0.0;
};

// One op of one program, mean duration per occurrence (nanoseconds).
struct OpComparison {
  std::int32_t program = 0;
  std::int32_t op = 0;
  std::string name;
  std::string op_class;
  double predicted_ns = 0.0;
  double measured_ns = 0.0;
  double error = 0.0;
  double abs_error_ns() const {
    return predicted_ns > measured_ns ? predicted_ns - measured_ns : measured_ns - predicted_ns;
  }
};

struct Check {
  std::string name;  // "step time", "peak memory (rank 3)", "comm dp"
  std::string unit;  // "s" (seconds per step) or "bytes"
  double predicted = 0.0;
  double measured = 0.0;
  double error = 0.0;
  double tolerance = 0.0;
  bool passed = true;
};

struct Comparison {
  std::string scenario;
  std::string hardware;
  std::string predicted_backend, measured_backend;
  CompareOptions options;
  std::vector<std::int32_t> steps_used;                         // measured steps averaged
  std::int32_t steps_skipped = 0;                               // measured warm-up steps left out
  std::vector<std::pair<std::int32_t, std::int32_t>> rank_map;  // (measured rank, predicted rank)
  MetricComparison step_time;                                   // seconds
  std::vector<MetricComparison> classes;                        // per op class, then "idle"; seconds per step per rank
  std::vector<RankMemoryComparison> memory;                     // per measured rank with a memory record
  std::vector<MetricComparison> comm_groups;  // transfer per group kind ("dp", "tp", ...); seconds per step per rank
  std::vector<MetricComparison> comm_waits;   // wait for peers per group kind, same order; not checked
  std::vector<OpComparison> ops;              // by absolute error, largest first
  std::int64_t ops_only_predicted = 0;        // (program, op) pairs measured nowhere
  std::int64_t ops_only_measured = 0;         // (program, op) pairs predicted nowhere
  std::vector<Check> checks;
  bool passed = true;
};

Comparison compare(const plan::Trace& predicted, const plan::Trace& measured, const CompareOptions& options = {});

// --- renderers ------------------------------------------------------------------------------------

// Console: checks with PASS/FAIL, step time, per-class table, memory per rank, comm per group, the
// top RenderOptions::max_op_rows ops by absolute error.
void write_comparison_table(const Comparison& comparison, std::ostream& out, const RenderOptions& options = {});

// Schema "clustersim.comparison/1": { schema, scenario, hardware, predicted_backend,
// measured_backend, passed, options{...}, steps_used[], steps_skipped, rank_map[[measured,
// predicted]], step_time{name, predicted, measured, error}, classes[...], memory[{measured_rank,
// predicted_rank, predicted_bytes, measured_bytes, error}], comm_groups[...], comm_waits[...], ops[{program, op,
// name, class, predicted_ns, measured_ns, error}], ops_only_predicted, ops_only_measured,
// checks[{name, predicted, measured, error, tolerance, passed}] }. Non-finite errors are null.
inline constexpr const char* kComparisonSchema = "clustersim.comparison/1";
nlohmann::json comparison_json(const Comparison& comparison);
void write_comparison_json(const Comparison& comparison, std::ostream& out, const RenderOptions& options = {});

// Markdown for reports/results/: a heading, the verdict, the checks and the metrics as tables of
// predicted, measured and error %, then the top ops.
void write_comparison_markdown(const Comparison& comparison, std::ostream& out, const RenderOptions& options = {});

// Comparison renderers by name: "table", "json", "markdown"; unknown -> InputError listing them.
std::vector<std::string> comparison_format_names();
void write_comparison(std::string_view format, const Comparison& comparison, std::ostream& out,
                      const RenderOptions& options = {});

}  // namespace clustersim::reports
