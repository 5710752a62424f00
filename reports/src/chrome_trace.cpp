// Chrome trace / Perfetto export of a Trace (format documented in chrome_trace.hpp). Streams the
// JSON straight to the output so that traces of millions of spans need no document in memory.
#include "clustersim/reports/chrome_trace.hpp"

#include <algorithm>
#include <cmath>
#include <map>
#include <set>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "clustersim/reports/format.hpp"
#include "trace_index.hpp"

namespace clustersim::reports {

namespace {

// Exact microseconds of an integer nanosecond count: 1234567 -> "1234.567", 5000 -> "5".
std::string micros(std::int64_t ns) {
  const bool negative = ns < 0;
  const std::uint64_t a = negative ? static_cast<std::uint64_t>(-(ns + 1)) + 1 : static_cast<std::uint64_t>(ns);
  std::string out = negative ? "-" : "";
  out += std::to_string(a / 1000);
  const std::uint64_t frac = a % 1000;
  if (frac != 0) {
    std::string f = fmt::format("{:03d}", frac);
    while (f.back() == '0') f.pop_back();
    out += "." + f;
  }
  return out;
}

std::string json_number(double v) {
  return std::isfinite(v) ? fmt::format("{}", v) : std::string("0");
}

class EventWriter {
 public:
  explicit EventWriter(std::ostream& out) : out_(out) {}
  void event(const std::string& body) {
    out_ << (first_ ? "\n" : ",\n") << '{' << body << '}';
    first_ = false;
  }

 private:
  std::ostream& out_;
  bool first_ = true;
};

// Assigns spans of one logical track to lanes so that no two spans of a lane overlap; lane 0 keeps
// the track's own tid, further lanes get fresh tids from the rank's allocator.
class LaneAssigner {
 public:
  // Returns the lane index for a span; spans must arrive sorted by start.
  std::size_t place(std::int64_t start_ns, std::int64_t end_ns) {
    for (std::size_t lane = 0; lane < lane_end_.size(); ++lane)
      if (start_ns >= lane_end_[lane]) {
        lane_end_[lane] = end_ns;
        return lane;
      }
    lane_end_.push_back(end_ns);
    return lane_end_.size() - 1;
  }

 private:
  std::vector<std::int64_t> lane_end_;
};

struct Track {
  std::string name;
  std::vector<std::int64_t> lane_tids;  // tid of each lane, lane 0 first
};

class RankTracks {
 public:
  // Tid for lane `lane` of `track`; lane 0 of a stream track uses `own_tid` when >= 0.
  std::int64_t tid(Track& track, std::size_t lane, std::int64_t own_tid,
                   std::vector<std::pair<std::int64_t, std::string>>& new_threads) {
    while (track.lane_tids.size() <= lane) {
      const std::size_t l = track.lane_tids.size();
      const std::int64_t t = (l == 0 && own_tid >= 0) ? own_tid : next_tid_++;
      track.lane_tids.push_back(t);
      new_threads.emplace_back(t, l == 0 ? track.name : fmt::format("{} #{}", track.name, l + 1));
    }
    return track.lane_tids[lane];
  }

 private:
  std::int64_t next_tid_ = 1000;
};

std::string comm_event(const plan::CommSpan& c, std::int64_t tid) {
  return fmt::format(
      "\"name\":{},\"cat\":\"comm\",\"ph\":\"X\",\"pid\":{},\"tid\":{},\"ts\":{},\"dur\":{},\"args\":{{\"group\":\"{}"
      "\","
      "\"group_id\":{},\"type\":{},\"bytes\":{},\"step\":{}}}",
      json_quote(c.type + " " + std::string(to_string(c.group))), c.rank, tid, micros(c.start_ns),
      micros(c.end_ns - c.start_ns), to_string(c.group), c.group_id, json_quote(c.type), c.bytes, c.step);
}

// Complete events for one rank's communication spans, one track (plus overflow lanes) per group kind.
void add_comm_events(std::vector<const plan::CommSpan*> spans, RankTracks& tracks,
                     std::vector<std::pair<std::int64_t, std::string>>& new_threads, EventWriter& w) {
  std::stable_sort(spans.begin(), spans.end(), [](const plan::CommSpan* a, const plan::CommSpan* b) {
    if (a->group != b->group) return a->group < b->group;
    if (a->start_ns != b->start_ns) return a->start_ns < b->start_ns;
    return a->end_ns > b->end_ns;
  });
  std::map<GroupKind, Track> comm_tracks;
  std::map<GroupKind, LaneAssigner> comm_lanes;
  for (const plan::CommSpan* c : spans) {
    Track& track = comm_tracks[c->group];
    if (track.name.empty()) track.name = fmt::format("comm {}", to_string(c->group));
    const std::size_t lane = comm_lanes[c->group].place(c->start_ns, c->end_ns);
    w.event(comm_event(*c, tracks.tid(track, lane, -1, new_threads)));
  }
}

}  // namespace

void write_chrome_trace(const plan::Trace& trace, std::ostream& out) {
  const detail::TraceIndex index(trace, "trace");
  const char* source = trace.source == plan::TraceSource::simulated ? "simulated" : "measured";
  out << "{\"displayTimeUnit\":\"ns\",\"otherData\":{\"scenario\":" << json_quote(trace.scenario)
      << ",\"hardware\":" << json_quote(trace.hardware) << ",\"backend\":" << json_quote(trace.backend)
      << ",\"source\":\"" << source << "\",\"schema\":" << json_quote(trace.schema) << "},\"traceEvents\":[";
  EventWriter w(out);

  const auto process_meta = [&](std::int32_t rank, const std::string& name) {
    w.event(fmt::format("\"name\":\"process_name\",\"ph\":\"M\",\"pid\":{},\"tid\":0,\"args\":{{\"name\":{}}}", rank,
                        json_quote(name)));
    w.event(
        fmt::format("\"name\":\"process_sort_index\",\"ph\":\"M\",\"pid\":{},\"tid\":0,\"args\":{{\"sort_index\":{}}}",
                    rank, rank));
  };
  const auto thread_meta = [&](std::int32_t rank, std::int64_t tid, const std::string& name) {
    w.event(fmt::format("\"name\":\"thread_name\",\"ph\":\"M\",\"pid\":{},\"tid\":{},\"args\":{{\"name\":{}}}", rank,
                        tid, json_quote(name)));
    w.event(
        fmt::format("\"name\":\"thread_sort_index\",\"ph\":\"M\",\"pid\":{},\"tid\":{},\"args\":{{\"sort_index\":{}}}",
                    rank, tid, tid));
  };

  // Comm spans per rank, so each rank's tracks are written together; only those of the ops' steps
  // (a prediction may keep other rank-noise samples' as further steps: keep_noise_comm).
  std::set<std::int32_t> op_steps;
  for (const auto& s : trace.ops) op_steps.insert(s.step);
  std::map<std::int32_t, std::vector<const plan::CommSpan*>> comm_by_rank;
  for (const auto& c : trace.comm)
    if (op_steps.empty() || op_steps.count(c.step)) comm_by_rank[c.rank].push_back(&c);

  std::set<std::int32_t> described;
  for (std::size_t slot = 0; slot < index.slots(); ++slot) {
    const std::int32_t rank = index.rank(slot);
    described.insert(rank);
    const plan::ProgramInfo* program = index.program(slot);
    process_meta(rank, program ? fmt::format("rank {} ({})", rank, program->name) : fmt::format("rank {}", rank));

    RankTracks tracks;
    std::vector<std::pair<std::int64_t, std::string>> new_threads;
    std::map<std::int16_t, Track> stream_tracks;
    if (program != nullptr)
      for (std::size_t s = 0; s < program->streams.size(); ++s) {
        Track& t = stream_tracks[static_cast<std::int16_t>(s)];
        t.name = program->streams[s];
        tracks.tid(t, 0, static_cast<std::int64_t>(s), new_threads);
      }

    // Op spans, per stream in start order.
    std::vector<std::size_t> spans = index.spans(slot);
    std::stable_sort(spans.begin(), spans.end(), [&](std::size_t a, std::size_t b) {
      const auto& x = trace.ops[a];
      const auto& y = trace.ops[b];
      if (x.stream != y.stream) return x.stream < y.stream;
      if (x.start_ns != y.start_ns) return x.start_ns < y.start_ns;
      return x.end_ns > y.end_ns;
    });
    std::map<std::int16_t, LaneAssigner> lanes;
    for (std::size_t i : spans) {
      const plan::OpSpan& span = trace.ops[i];
      const plan::OpInfo& op = index.op_of(span);
      Track& track = stream_tracks[span.stream];
      if (track.name.empty()) track.name = fmt::format("stream {}", span.stream);
      const std::size_t lane = lanes[span.stream].place(span.start_ns, span.end_ns);
      const std::int64_t tid = tracks.tid(track, lane, span.stream, new_threads);
      w.event(fmt::format(
          "\"name\":{},\"cat\":{},\"ph\":\"X\",\"pid\":{},\"tid\":{},\"ts\":{},\"dur\":{},\"args\":{{\"op\":{},"
          "\"kind\":\"{}\",\"layer\":{},\"microbatch\":{},\"flops\":{},\"bytes\":{},\"step\":{}}}",
          json_quote(op.name), json_quote(op.op_class), rank, tid, micros(span.start_ns),
          micros(span.end_ns - span.start_ns), op.op, to_string(op.kind), op.layer, op.microbatch,
          json_number(op.flops), op.bytes, span.step));
    }

    // Communication spans, one track per group kind.
    add_comm_events(comm_by_rank[rank], tracks, new_threads, w);
    // Thread names last: the format does not order events, and the tracks are only known now.
    for (const auto& [tid, name] : new_threads) thread_meta(rank, tid, name);
  }

  // Comm spans of ranks that are not recorded still show, on their own process.
  for (const auto& [rank, spans] : comm_by_rank) {
    if (described.count(rank) > 0 || spans.empty()) continue;
    described.insert(rank);
    process_meta(rank, fmt::format("rank {}", rank));
    RankTracks tracks;
    std::vector<std::pair<std::int64_t, std::string>> new_threads;
    add_comm_events(spans, tracks, new_threads, w);
    for (const auto& [tid, name] : new_threads) thread_meta(rank, tid, name);
  }

  // Memory counters.
  for (const auto& m : trace.memory) {
    if (described.count(m.rank) == 0) {
      described.insert(m.rank);
      process_meta(m.rank, fmt::format("rank {}", m.rank));
    }
    for (const auto& sample : m.timeline)
      w.event(fmt::format("\"name\":\"memory\",\"ph\":\"C\",\"pid\":{},\"ts\":{},\"args\":{{\"bytes\":{}}}", m.rank,
                          micros(sample.t_ns), sample.bytes));
  }
  out << "\n]}\n";
}

}  // namespace clustersim::reports
