// Validated index over a Trace, private to reports (see trace_index.hpp).
#include "trace_index.hpp"

#include <algorithm>
#include <map>

#include "clustersim/plan/error.hpp"

namespace clustersim::reports::detail {

namespace {

std::string rank_list(const std::vector<std::int32_t>& ranks) {
  std::string out;
  const std::size_t shown = std::min<std::size_t>(ranks.size(), 16);
  for (std::size_t i = 0; i < shown; ++i) {
    if (i > 0) out += ", ";
    out += std::to_string(ranks[i]);
  }
  if (shown < ranks.size()) out += ", ...";
  return out;
}

}  // namespace

TraceIndex::TraceIndex(const plan::Trace& trace, std::string label) : trace_(trace), label_(std::move(label)) {
  const std::size_t n = trace.ranks.size();
  if (trace.program_of_rank.size() != n)
    throw InputError(label_ + ".program_of_rank", std::to_string(trace.program_of_rank.size()) + " entries",
                     "one program per recorded rank (" + std::to_string(n) + ")");
  std::map<std::int32_t, const plan::ProgramInfo*> by_id;
  for (const auto& p : trace.programs) by_id.emplace(p.program, &p);
  programs_.resize(n, nullptr);
  spans_.resize(n);
  compute_streams_.resize(n, 0);
  for (std::size_t s = 0; s < n; ++s) {
    if (!slot_of_rank_.emplace(trace.ranks[s], s).second)
      throw InputError(label_ + ".ranks[" + std::to_string(s) + "]", std::to_string(trace.ranks[s]),
                       "each recorded rank listed once");
    const auto it = by_id.find(trace.program_of_rank[s]);
    if (it != by_id.end()) {
      programs_[s] = it->second;
      compute_streams_[s] = reports::compute_stream(*it->second);
    }
  }
  for (std::size_t i = 0; i < trace.ops.size(); ++i) {
    const plan::OpSpan& span = trace.ops[i];
    const std::string path = label_ + ".ops[" + std::to_string(i) + "]";
    const auto it = slot_of_rank_.find(span.rank);
    if (it == slot_of_rank_.end())
      throw InputError(path + ".rank", std::to_string(span.rank), "a recorded rank (" + rank_list(trace.ranks) + ")");
    const std::size_t slot = it->second;
    const plan::ProgramInfo* program = programs_[slot];
    if (program == nullptr)
      throw InputError(label_ + ".program_of_rank[" + std::to_string(slot) + "]",
                       std::to_string(trace.program_of_rank[slot]), "a program described in " + label_ + ".programs");
    if (span.op < 0 || static_cast<std::size_t>(span.op) >= program->ops.size())
      throw InputError(path + ".op", std::to_string(span.op),
                       "an op id of program " + std::to_string(program->program) + " (0.." +
                           std::to_string(static_cast<std::int64_t>(program->ops.size()) - 1) + ")");
    if (span.end_ns < span.start_ns)
      throw InputError(path + ".end_ns", std::to_string(span.end_ns),
                       "at least start_ns (" + std::to_string(span.start_ns) + ")");
    spans_[slot].push_back(i);
  }
}

std::ptrdiff_t TraceIndex::slot_of(std::int32_t rank) const {
  const auto it = slot_of_rank_.find(rank);
  return it == slot_of_rank_.end() ? -1 : static_cast<std::ptrdiff_t>(it->second);
}

const plan::OpInfo& TraceIndex::op_of(const plan::OpSpan& span) const {
  const std::size_t slot = slot_of_rank_.at(span.rank);
  return programs_[slot]->ops[static_cast<std::size_t>(span.op)];
}

std::vector<Interval> merge_intervals(std::vector<Interval> intervals) {
  std::sort(intervals.begin(), intervals.end(),
            [](const Interval& a, const Interval& b) { return a.start_ns < b.start_ns; });
  std::vector<Interval> merged;
  for (const Interval& i : intervals) {
    if (i.end_ns <= i.start_ns) continue;
    if (!merged.empty() && i.start_ns <= merged.back().end_ns)
      merged.back().end_ns = std::max(merged.back().end_ns, i.end_ns);
    else
      merged.push_back(i);
  }
  return merged;
}

std::int64_t covered_length(const std::vector<Interval>& merged, std::int64_t start_ns, std::int64_t end_ns) {
  if (end_ns <= start_ns) return 0;
  // First interval that ends after `start_ns`.
  auto it = std::upper_bound(merged.begin(), merged.end(), start_ns,
                             [](std::int64_t t, const Interval& i) { return t < i.end_ns; });
  std::int64_t covered = 0;
  for (; it != merged.end() && it->start_ns < end_ns; ++it)
    covered += std::min(end_ns, it->end_ns) - std::max(start_ns, it->start_ns);
  return covered;
}

}  // namespace clustersim::reports::detail
