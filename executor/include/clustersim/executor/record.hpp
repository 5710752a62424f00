// What a rank measures, and how the measured Trace is assembled from it. Each rank keeps a
// RankRecord (one StepRecord per step: op spans, comm spans, memory, loss); rank 0 gathers them
// over MPI at the end of a run and builds the trace with build_measured_trace(). So that a killed
// or crashed rank still leaves its measured steps behind, a rank with a run directory also appends
// every record to `<run_dir>/rank-<rank>.jsonl` as it goes (one JSON object per line, flushed):
//   {"type":"begin", rank, program, world_size, host, pid}
//   {"type":"step", ...StepRecord}
//   {"type":"error", message}              an exception stopped the rank
//   {"type":"signal", signal}              a fatal signal arrived (when signal recording is on)
//   {"type":"end", resident_bytes, resident_peak_bytes, persistent_bytes}
// assemble_trace_from_run_dir() reads those files after the run, keeps the steps every rank
// finished and names the ranks that did not end.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "clustersim/plan/plan.hpp"
#include "clustersim/plan/trace.hpp"

namespace clustersim::executor {

struct StepRecord {
  std::int32_t step = 0;
  bool warmup = false;
  std::int64_t begin_ns = 0, end_ns = 0;  // since the start of the run (aligned across ranks)
  double loss_sum = 0.0;                  // this rank's loss ops: sum over counted rows
  std::int64_t loss_count = 0;
  double mean_loss = 0.0;   // over all ranks (NaN when the plan has no loss op)
  bool skipped = false;     // a non-finite gradient skipped the optimizer step
  double loss_scale = 1.0;  // scale in effect during the step
  std::vector<plan::OpSpan> ops;
  std::vector<plan::CommSpan> comm;
  std::int64_t peak_bytes = 0, peak_time_ns = 0;
  std::map<TensorRole, std::int64_t> at_peak, role_peak;
  std::vector<plan::MemorySample> memory;  // total bytes after each change during the step
};

struct RankRecord {
  std::int32_t rank = 0, program = 0, world_size = 1;
  std::string host;
  std::int64_t pid = 0;
  std::int64_t persistent_bytes = 0;
  std::vector<StepRecord> steps;
  bool finished = false;
  std::string error;                                         // the exception that stopped the rank, if any
  std::int32_t signal = 0;                                   // the fatal signal recorded, if any
  std::int64_t resident_bytes = 0, resident_peak_bytes = 0;  // VmRSS / VmHWM at the end
};

nlohmann::json to_json(const StepRecord& step);
nlohmann::json to_json(const RankRecord& rank);
StepRecord step_record_from_json(const nlohmann::json& j);
RankRecord rank_record_from_json(const nlohmann::json& j);

struct TraceOptions {
  std::string scenario, hardware;
  std::string backend = "cpu";
  double peak_flops_per_rank = 0.0;  // dense peak for MFU; 0 leaves mfu/hfu at 0
  std::int64_t capacity_bytes = 0;   // usable memory per rank; 0 = unknown (fits stays true)
  std::int32_t timeline_max_samples = 2000;
  nlohmann::json extra = nlohmann::json::object();  // merged into Trace::extra
};

// The measured trace of the steps every record holds. Spans and memory cover the non-warm-up steps;
// losses cover every step. Summary: step time = mean over non-warm-up steps of the slowest rank's
// step; compute/comm/exposed/bubble from the critical rank (slowest on average).
plan::Trace build_measured_trace(const plan::Plan& plan, const std::vector<RankRecord>& records,
                                 const TraceOptions& options);

struct RunDirResult {
  plan::Trace trace;
  bool complete = false;                   // every rank wrote its end record
  std::vector<std::int32_t> failed_ranks;  // ranks that stopped without an end record
  std::int32_t steps = 0;                  // steps every rank finished (in the trace)
  std::string message;                     // "" when complete; else which rank stopped where and why
};

// File a rank writes its records to.
std::string rank_record_path(const std::string& run_dir, std::int32_t rank);

// Reads `<run_dir>/rank-*.jsonl` for ranks 0 .. plan.world_size-1 and builds the trace of the steps
// every rank finished (a truncated last line is ignored). Throws InputError when the directory does
// not exist.
RunDirResult assemble_trace_from_run_dir(const plan::Plan& plan, const std::string& run_dir,
                                         const TraceOptions& options);

}  // namespace clustersim::executor
