// Chrome trace / Perfetto export: any Trace (predicted or measured) opens in ui.perfetto.dev or
// chrome://tracing. JSON Trace Event Format, object form:
//   { "traceEvents": [...], "displayTimeUnit": "ns", "otherData": { scenario, hardware, backend, source } }
//  * one process per recorded rank: pid = rank; metadata "process_name" = "rank N (program name)"
//    and "process_sort_index" = N;
//  * one thread per stream: tid = stream id, metadata "thread_name" = the stream's name;
//  * one complete event per op span: "ph": "X", name = op name, cat = op class, ts and dur in
//    microseconds (exact decimals of the integer nanoseconds), args { op, kind, layer, microbatch,
//    flops, bytes, step };
//  * communication spans (Trace::comm) as complete events on one extra thread per (group kind)
//    named "comm <group>" (tid >= 1000), cat "comm", name "<type> <group>", args { group,
//    group_id, type, bytes, step };
//  * memory as counter events ("ph": "C", name "memory", args { "bytes": total allocated }) per
//    rank from RankMemory::timeline.
// Spans on one track that would overlap without nesting (which the viewers mis-draw) are moved to
// extra threads of the same name with a "#2", "#3"... suffix (tid >= 1000).
#pragma once

#include <ostream>

#include "clustersim/plan/trace.hpp"

namespace clustersim::reports {

void write_chrome_trace(const plan::Trace& trace, std::ostream& out);

}  // namespace clustersim::reports
