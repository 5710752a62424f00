// A static check of one rank's program for cross-stream hazards the threaded
// interpreter would turn into races: an op reading storage that an earlier op on another stream
// writes (read after write), overwriting storage an earlier op on another stream reads or writes
// (write after read / write), or freeing storage an earlier op on another stream still uses, without
// a happens-before path (stream order plus deps) between the two. Happens-before is tracked with one
// vector clock per op (Lamport; Fidge / Mattern 1988) over the program's streams.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "clustersim/plan/plan.hpp"

namespace clustersim::plan {

// Byte range [begin, end) of a tensor's storage base on `rank` (views resolved, group-indexed ones
// with the rank's index).
struct StorageRange {
  TensorId base = 0;
  std::int64_t begin = 0, end = 0;
};
StorageRange storage_range(const Plan& plan, const RankGroups& groups, Rank rank, TensorId id);

// Descriptions of the first `max_reports` hazards ("" list when none).
std::vector<std::string> find_stream_hazards(const Plan& plan, const RankGroups& groups, Rank rank,
                                             std::int32_t program, std::size_t max_reports = 5);

}  // namespace clustersim::plan
