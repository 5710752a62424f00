// Shared helpers of the dashboard tests: the test scenarios, synchronous predictions, a hand-made
// "measured" trace derived from a prediction (durations scaled per op class, several steps, a slower
// warm-up), an event-loop wait, and a count of coloured pixels for rendered images.
#pragma once

#include <chrono>
#include <cmath>
#include <functional>
#include <map>
#include <memory>
#include <string>

#include <QColor>
#include <QCoreApplication>
#include <QElapsedTimer>
#include <QImage>
#include <QThread>

#include <nlohmann/json.hpp>

#include "clustersim/models/scenario.hpp"
#include "clustersim/plan/trace.hpp"
#include "core/prediction.hpp"

namespace clustersim::gui::testing {

inline std::string data_path(const std::string& name) {
  return std::string(CLUSTERSIM_SOURCE_DIR) + "/tests/unit/gui/data/" + name;
}

// tests/unit/gui/data/small.json: gpt-tiny on 8 A100s, tp 2 x pp 2 x dp 2.
inline nlohmann::json small_scenario() {
  return models::load_scenario_json(data_path("small.json"));
}

// The project's default scenario (scenarios/default.json) when present, else the small one.
inline nlohmann::json default_scenario() {
  const std::string file = std::string(CLUSTERSIM_SOURCE_DIR) + "/scenarios/default.json";
  try {
    return models::load_scenario_json(file);
  } catch (const std::exception&) {
    return small_scenario();
  }
}

inline PredictionPtr predict_json(const nlohmann::json& j, std::uint64_t revision = 1) {
  return predict(models::parse_scenario(j), revision);
}

// Per-class factor applied to predicted durations in the hand-made measurement.
inline double measured_factor(const std::string& op_class) {
  if (op_class == "gemm") return 1.10;
  if (op_class == "attention") return 0.90;
  if (op_class == "memory") return 1.25;
  if (op_class.rfind("comm:", 0) == 0 || op_class.rfind("p2p", 0) == 0) return 1.20;
  return 1.0;
}

// A measured trace of the same plan: `steps` steps (step 0 a warm-up twice as slow), every op span
// laid out at the predicted start times scaled by 1.1 and lasting its predicted duration times
// measured_factor(class); memory peaks 2% above the prediction.
inline plan::Trace make_measured(const plan::Trace& predicted, int steps = 3) {
  plan::Trace m;
  m.source = plan::TraceSource::measured;
  m.scenario = predicted.scenario;
  m.hardware = predicted.hardware;
  m.backend = "cpu";
  m.ranks = predicted.ranks;
  m.program_of_rank = predicted.program_of_rank;
  m.programs = predicted.programs;
  std::map<std::int32_t, std::int32_t> program_of;
  for (std::size_t i = 0; i < m.ranks.size(); ++i) program_of[m.ranks[i]] = m.program_of_rank[i];
  std::int64_t base = 0;
  for (int step = 0; step < steps; ++step) {
    const double slow = step == 0 ? 2.0 : 1.0;
    std::int64_t end = base;
    for (const auto& s : predicted.ops) {
      const auto& info = m.programs[static_cast<std::size_t>(program_of[s.rank])].ops[static_cast<std::size_t>(s.op)];
      plan::OpSpan o = s;
      o.step = step;
      o.start_ns = base + static_cast<std::int64_t>(std::llround(static_cast<double>(s.start_ns) * 1.1 * slow));
      o.end_ns = o.start_ns + static_cast<std::int64_t>(std::llround(static_cast<double>(s.end_ns - s.start_ns) *
                                                                     measured_factor(info.op_class) * slow));
      end = std::max(end, o.end_ns);
      m.ops.push_back(o);
    }
    base = end + 1000;
  }
  m.memory = predicted.memory;
  for (auto& r : m.memory) {
    r.peak_bytes = static_cast<std::int64_t>(static_cast<double>(r.peak_bytes) * 1.02);
    r.timeline.clear();
  }
  m.summary = predicted.summary;
  m.summary.steps = steps;
  return m;
}

// Runs the event loop until `done()` or the timeout; true when done.
inline bool wait_until(const std::function<bool()>& done, int timeout_ms = 60000) {
  QElapsedTimer timer;
  timer.start();
  while (!done()) {
    if (timer.elapsed() > timeout_ms) return false;
    QCoreApplication::processEvents(QEventLoop::AllEvents, 20);
    QThread::msleep(1);
  }
  return true;
}

// Pixels with a clearly saturated colour (bars, rectangles, lines), as opposed to the white, grey
// and black of backgrounds, grids and text.
inline int coloured_pixels(const QImage& image) {
  int n = 0;
  const QImage img = image.convertToFormat(QImage::Format_RGB32);
  for (int y = 0; y < img.height(); ++y)
    for (int x = 0; x < img.width(); ++x) {
      const QColor c = QColor::fromRgb(img.pixel(x, y));
      if (c.hsvSaturation() > 80 && c.value() > 60) ++n;
    }
  return n;
}

}  // namespace clustersim::gui::testing
