// The Timeline view's model: a Gantt chart of a trace's op spans, one lane per (recorded rank,
// stream), with the data structures that keep painting fast on huge traces. `blocks` returns what
// to draw for a time window at a given resolution: spans at least a pixel wide come back one by one,
// runs of narrower spans are merged into one block per pixel column (coloured by their longest
// member), so a frame never draws many more rectangles than the widget has pixels. `hit` finds the
// op under the cursor (name, class, duration, layer, micro-batch). Times are shifted so the chosen
// step (or the whole trace) starts at 0, so a prediction and a measurement line up.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <vector>

#include <QString>

#include "clustersim/plan/trace.hpp"

namespace clustersim::gui {

struct TimelineSpan {
  std::int64_t start_ns = 0, end_ns = 0;  // relative to the model's origin
  std::int32_t op = 0;
  std::int32_t step = 0;
  std::uint16_t op_class = 0;  // index into TimelineModel::classes()
};

struct TimelineLane {
  std::int32_t rank = 0;
  std::int16_t stream = 0;
  std::int32_t program = 0;
  QString label;                      // "rank 0 compute"
  std::vector<TimelineSpan> spans;    // by start time
  std::vector<std::int64_t> max_end;  // max_end[i] = max(spans[0..i].end_ns), for window search
};

struct TimelineBlock {
  std::int64_t start_ns = 0, end_ns = 0;
  std::int32_t span = -1;  // index into the lane's spans when the block is one span, else -1
  std::uint16_t op_class = 0;
  std::int32_t count = 1;  // spans merged into the block
};

struct TimelineHit {
  int lane = 0;
  std::int32_t span = 0;
  std::int32_t rank = 0;
  QString stream;
  QString name;
  QString op_class;
  std::int64_t start_ns = 0, end_ns = 0;
  std::int32_t layer = -1, microbatch = -1, step = 0;
  // "name\nclass · duration\nlayer L · micro-batch M · step S" for the tooltip.
  QString text() const;
};

class TimelineModel {
 public:
  // Shows `trace` (shared, kept alive by the model). With `step`, only that step's spans, shifted so
  // the step starts at 0; without, every span, shifted so the first starts at 0.
  void set_trace(std::shared_ptr<const plan::Trace> trace, std::optional<std::int32_t> step = {});
  void clear();

  bool empty() const { return lanes_.empty(); }
  const std::shared_ptr<const plan::Trace>& trace() const { return trace_; }
  int lane_count() const { return static_cast<int>(lanes_.size()); }
  const TimelineLane& lane(int i) const { return lanes_[static_cast<std::size_t>(i)]; }
  const std::vector<QString>& classes() const { return classes_; }
  std::int64_t span_count() const { return span_count_; }
  // Extent of the shifted spans: [0, end_ns()].
  std::int64_t end_ns() const { return end_ns_; }
  // The trace time that became 0.
  std::int64_t origin_ns() const { return origin_ns_; }

  // What to draw of `lane` in [t0_ns, t1_ns] at `ns_per_px` (see the header comment).
  std::vector<TimelineBlock> blocks(int lane, std::int64_t t0_ns, std::int64_t t1_ns, double ns_per_px) const;
  // The span of `lane` under `t_ns` (within `tolerance_ns` when none covers it exactly).
  std::optional<TimelineHit> hit(int lane, std::int64_t t_ns, std::int64_t tolerance_ns = 0) const;

 private:
  // First span index whose end may reach t_ns.
  std::size_t first_reaching(const TimelineLane& lane, std::int64_t t_ns) const;

  std::shared_ptr<const plan::Trace> trace_;
  std::vector<TimelineLane> lanes_;
  std::vector<QString> classes_;
  std::int64_t span_count_ = 0;
  std::int64_t end_ns_ = 0;
  std::int64_t origin_ns_ = 0;
};

}  // namespace clustersim::gui
