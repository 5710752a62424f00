// TimelineModel: lanes of op spans, window queries with pixel-level merging, hit testing.
#include "core/timeline_model.hpp"

#include <algorithm>
#include <limits>
#include <map>
#include <unordered_map>

#include <QStringList>

#include "clustersim/reports/format.hpp"

namespace clustersim::gui {

QString TimelineHit::text() const {
  QString out = name + "\n" + op_class + " · " +
                QString::fromStdString(reports::format_duration_ns(static_cast<double>(end_ns - start_ns)));
  QStringList facts;
  facts << QStringLiteral("rank %1 %2").arg(rank).arg(stream);
  if (layer >= 0) facts << QStringLiteral("layer %1").arg(layer);
  if (microbatch >= 0) facts << QStringLiteral("micro-batch %1").arg(microbatch);
  facts << QStringLiteral("step %1").arg(step);
  return out + "\n" + facts.join(QStringLiteral(" · "));
}

void TimelineModel::clear() {
  trace_.reset();
  lanes_.clear();
  classes_.clear();
  span_count_ = 0;
  end_ns_ = 0;
  origin_ns_ = 0;
}

void TimelineModel::set_trace(std::shared_ptr<const plan::Trace> trace, std::optional<std::int32_t> step) {
  clear();
  trace_ = std::move(trace);
  if (!trace_) return;
  const plan::Trace& t = *trace_;

  std::unordered_map<std::int32_t, std::int32_t> program_of;
  for (std::size_t i = 0; i < t.ranks.size() && i < t.program_of_rank.size(); ++i)
    program_of[t.ranks[i]] = t.program_of_rank[i];

  // The class index of every op of every program, resolved once (not per span).
  std::map<std::string, std::uint16_t> class_index;
  std::vector<std::vector<std::uint16_t>> op_class(t.programs.size());
  for (std::size_t p = 0; p < t.programs.size(); ++p) {
    for (const auto& info : t.programs[p].ops) {
      auto [it, added] = class_index.try_emplace(info.op_class, static_cast<std::uint16_t>(classes_.size()));
      if (added) classes_.push_back(QString::fromStdString(info.op_class));
      op_class[p].push_back(it->second);
    }
  }

  std::unordered_map<std::int64_t, std::size_t> lane_index;
  std::int64_t last_key = -1;
  std::size_t last_lane = 0;
  std::int32_t last_rank = -1, last_program = -1;
  std::int64_t origin = std::numeric_limits<std::int64_t>::max();
  for (const auto& s : t.ops) {
    if (step && s.step != *step) continue;
    if (s.rank != last_rank) {
      const auto pit = program_of.find(s.rank);
      last_program = pit == program_of.end() ? -1 : pit->second;
      last_rank = s.rank;
    }
    if (last_program < 0 || static_cast<std::size_t>(last_program) >= t.programs.size()) continue;
    const auto& program = t.programs[static_cast<std::size_t>(last_program)];
    if (s.op < 0 || static_cast<std::size_t>(s.op) >= program.ops.size()) continue;
    const std::int64_t key = (static_cast<std::int64_t>(s.rank) << 16) | static_cast<std::uint16_t>(s.stream);
    if (key != last_key) {
      auto [lit, new_lane] = lane_index.try_emplace(key, lanes_.size());
      if (new_lane) {
        TimelineLane lane;
        lane.rank = s.rank;
        lane.stream = s.stream;
        lane.program = last_program;
        const QString stream = s.stream >= 0 && static_cast<std::size_t>(s.stream) < program.streams.size()
                                   ? QString::fromStdString(program.streams[static_cast<std::size_t>(s.stream)])
                                   : QStringLiteral("stream %1").arg(s.stream);
        lane.label = QStringLiteral("rank %1 %2").arg(s.rank).arg(stream);
        lanes_.push_back(std::move(lane));
      }
      last_key = key;
      last_lane = lit->second;
    }
    lanes_[last_lane].spans.push_back(
        {s.start_ns, s.end_ns, s.op, s.step,
         op_class[static_cast<std::size_t>(last_program)][static_cast<std::size_t>(s.op)]});
    origin = std::min(origin, s.start_ns);
    ++span_count_;
  }
  if (lanes_.empty()) return;
  origin_ns_ = origin;

  std::sort(lanes_.begin(), lanes_.end(), [](const TimelineLane& a, const TimelineLane& b) {
    return a.rank != b.rank ? a.rank < b.rank : a.stream < b.stream;
  });
  for (auto& lane : lanes_) {
    const auto by_start = [](const TimelineSpan& a, const TimelineSpan& b) { return a.start_ns < b.start_ns; };
    if (!std::is_sorted(lane.spans.begin(), lane.spans.end(), by_start))
      std::stable_sort(lane.spans.begin(), lane.spans.end(), by_start);
    lane.max_end.reserve(lane.spans.size());
    std::int64_t running = std::numeric_limits<std::int64_t>::min();
    for (auto& s : lane.spans) {
      s.start_ns -= origin;
      s.end_ns -= origin;
      running = std::max(running, s.end_ns);
      lane.max_end.push_back(running);
      end_ns_ = std::max(end_ns_, s.end_ns);
    }
  }
}

std::size_t TimelineModel::first_reaching(const TimelineLane& lane, std::int64_t t_ns) const {
  return static_cast<std::size_t>(std::lower_bound(lane.max_end.begin(), lane.max_end.end(), t_ns) -
                                  lane.max_end.begin());
}

std::vector<TimelineBlock> TimelineModel::blocks(int lane_no, std::int64_t t0_ns, std::int64_t t1_ns,
                                                 double ns_per_px) const {
  std::vector<TimelineBlock> out;
  if (lane_no < 0 || lane_no >= lane_count() || t1_ns <= t0_ns) return out;
  const TimelineLane& lane = lanes_[static_cast<std::size_t>(lane_no)];
  if (ns_per_px <= 0) ns_per_px = 1;
  bool open = false;
  TimelineBlock merged;
  std::int64_t merged_longest = -1;
  const auto flush = [&] {
    if (open) out.push_back(merged);
    open = false;
  };
  for (std::size_t i = first_reaching(lane, t0_ns); i < lane.spans.size(); ++i) {
    const TimelineSpan& s = lane.spans[i];
    if (s.start_ns > t1_ns) break;
    if (s.end_ns < t0_ns) continue;
    const std::int64_t length = s.end_ns - s.start_ns;
    if (static_cast<double>(length) >= ns_per_px) {
      flush();
      out.push_back({s.start_ns, s.end_ns, static_cast<std::int32_t>(i), s.op_class, 1});
      continue;
    }
    if (open && static_cast<double>(s.start_ns - merged.end_ns) <= ns_per_px &&
        static_cast<double>(s.end_ns - merged.start_ns) <= 2.0 * ns_per_px) {
      merged.end_ns = std::max(merged.end_ns, s.end_ns);
      ++merged.count;
      merged.span = -1;
      if (length > merged_longest) {
        merged_longest = length;
        merged.op_class = s.op_class;
      }
      continue;
    }
    flush();
    merged = {s.start_ns, s.end_ns, static_cast<std::int32_t>(i), s.op_class, 1};
    merged_longest = length;
    open = true;
  }
  flush();
  return out;
}

std::optional<TimelineHit> TimelineModel::hit(int lane_no, std::int64_t t_ns, std::int64_t tolerance_ns) const {
  if (lane_no < 0 || lane_no >= lane_count() || !trace_) return std::nullopt;
  const TimelineLane& lane = lanes_[static_cast<std::size_t>(lane_no)];
  std::int64_t best_distance = std::numeric_limits<std::int64_t>::max();
  std::size_t best = lane.spans.size();
  for (std::size_t i = first_reaching(lane, t_ns - tolerance_ns); i < lane.spans.size(); ++i) {
    const TimelineSpan& s = lane.spans[i];
    if (s.start_ns > t_ns + tolerance_ns) break;
    const std::int64_t d = t_ns < s.start_ns ? s.start_ns - t_ns : (t_ns > s.end_ns ? t_ns - s.end_ns : 0);
    // Prefer the covering span that started last (the innermost), else the nearest.
    if (d < best_distance || (d == 0 && best_distance == 0)) {
      best_distance = d;
      best = i;
    }
  }
  if (best == lane.spans.size() || best_distance > tolerance_ns) return std::nullopt;
  const TimelineSpan& s = lane.spans[best];
  const auto& program = trace_->programs[static_cast<std::size_t>(lane.program)];
  const auto& info = program.ops[static_cast<std::size_t>(s.op)];
  TimelineHit h;
  h.lane = lane_no;
  h.span = static_cast<std::int32_t>(best);
  h.rank = lane.rank;
  h.stream = lane.stream >= 0 && static_cast<std::size_t>(lane.stream) < program.streams.size()
                 ? QString::fromStdString(program.streams[static_cast<std::size_t>(lane.stream)])
                 : QString::number(lane.stream);
  h.name = QString::fromStdString(info.name);
  h.op_class = QString::fromStdString(info.op_class);
  h.start_ns = s.start_ns;
  h.end_ns = s.end_ns;
  h.layer = info.layer;
  h.microbatch = info.microbatch;
  h.step = s.step;
  return h;
}

}  // namespace clustersim::gui
