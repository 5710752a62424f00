// How the CUDA worker maps a program's streams and deps onto CUDA streams and events, computed once
// per program on the host (no device needed, so it is unit-tested):
//  * enqueue order: one host thread enqueues every op of a step; the order is a topological order
//    of (stream order + deps), program order whenever program order is one;
//  * waits: for each op, the ops on *other* streams whose completion event its stream must wait on
//    (cudaStreamWaitEvent) before the op starts. Deps on the op's own stream are implied by stream
//    order; a dep already implied by an earlier wait of the same stream (directly, or through what
//    the awaited op's stream had itself waited for: vector clocks) is dropped, so each cross-stream
//    edge costs one event wait at most;
//  * records: whether some op waits on this op (its stream records a completion event after it);
//  * point-to-point runs: consecutive send/recv ops of one stream whose deps were all enqueued before
//    the run's first op are issued together (one ncclGroupStart/End), so a rank that sends and
//    receives in the same pipeline tick cannot deadlock against its peer; such ops share one span.
#pragma once

#include <cstdint>
#include <vector>

#include "clustersim/plan/plan.hpp"

namespace clustersim::executor::cuda {

struct StreamScheduleOptions {
  bool group_p2p = true;
};

struct StreamSchedule {
  std::vector<plan::OpId> order;                // every op once, the order to enqueue them
  std::vector<std::vector<plan::OpId>> waits;   // per op id: ops on other streams to wait for
  std::vector<bool> records;                    // per op id: another stream waits for this op
  std::vector<std::int32_t> p2p_run;            // per op id: index into p2p_runs, or -1
  std::vector<std::vector<plan::OpId>> p2p_runs;  // grouped send/recv ops, in stream order
  std::int64_t dropped_waits = 0;               // cross-stream deps implied by other waits
};

// Throws InternalError when stream order and deps form a cycle (naming an op on it).
StreamSchedule schedule_streams(const plan::Program& program, const StreamScheduleOptions& options = {});

}  // namespace clustersim::executor::cuda
