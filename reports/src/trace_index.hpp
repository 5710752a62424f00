// Private to reports: a validated index over a Trace (rank -> slot in Trace::ranks, slot -> program,
// op spans grouped per slot), built once by the analysis and the comparison so that malformed
// traces fail with an InputError naming the offending field instead of reading out of bounds.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <unordered_map>
#include <vector>

#include "clustersim/plan/trace.hpp"
#include "clustersim/reports/analysis.hpp"

namespace clustersim::reports::detail {

class TraceIndex {
 public:
  // `label` prefixes JSON paths in errors ("trace", "predicted", "measured").
  TraceIndex(const plan::Trace& trace, std::string label);

  const plan::Trace& trace() const { return trace_; }
  std::size_t slots() const { return trace_.ranks.size(); }
  std::int32_t rank(std::size_t slot) const { return trace_.ranks[slot]; }
  // Slot of a recorded rank, -1 when not recorded.
  std::ptrdiff_t slot_of(std::int32_t rank) const;
  // Program of a slot, nullptr when the trace does not describe it (only allowed without spans).
  const plan::ProgramInfo* program(std::size_t slot) const { return programs_[slot]; }
  // Indices into Trace::ops of the spans of one slot, in trace order.
  const std::vector<std::size_t>& spans(std::size_t slot) const { return spans_[slot]; }
  // The op a span ran (validated at construction).
  const plan::OpInfo& op_of(const plan::OpSpan& span) const;
  // Stream the compute-busy time is measured on, per slot (0 when the program is unknown).
  std::int16_t compute_stream(std::size_t slot) const { return compute_streams_[slot]; }

 private:
  const plan::Trace& trace_;
  std::string label_;
  std::unordered_map<std::int32_t, std::size_t> slot_of_rank_;
  std::vector<const plan::ProgramInfo*> programs_;
  std::vector<std::vector<std::size_t>> spans_;
  std::vector<std::int16_t> compute_streams_;
};

// Merges intervals (sorted in place) into disjoint ones, ascending.
std::vector<Interval> merge_intervals(std::vector<Interval> intervals);
// Length of [start, end) covered by disjoint ascending intervals.
std::int64_t covered_length(const std::vector<Interval>& merged, std::int64_t start_ns, std::int64_t end_ns);

}  // namespace clustersim::reports::detail
