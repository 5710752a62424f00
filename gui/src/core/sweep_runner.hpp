// A small in-process sweep: every combination of the values of one or two knobs applied to the
// current scenario (models::set_path), each point validated (models::parse_scenario), built and
// simulated without op spans, and written as one CSV row with reports::csv_row, the parameters as
// extra columns named by their dot path. The output is the same CSV `clustersim sweep` writes, so
// the Sweep view reads both the same way. Invalid points are skipped with the library's message.
// SweepRunner runs it on the thread pool with progress and cancel.
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <QObject>
#include <QStringList>
#include <QTimer>

#include <nlohmann/json.hpp>

namespace clustersim::gui {

struct SweepAxis {
  std::string path;                    // scenario dot path, e.g. "parallelism.tp"
  std::vector<nlohmann::json> values;  // null removes the key (e.g. dp = auto)
};

struct SweepOutput {
  std::string csv;      // header + one row per valid point
  int points = 0;       // valid points written
  QStringList skipped;  // "parallelism.tp=3: <message>" for invalid points
  bool cancelled = false;
};

// The base scenario for a grid: `base`, and when `derive_dp` is set and the grid varies
// parallelism.tp or parallelism.pp but not parallelism.dp, without parallelism.dp (so dp follows
// GPUs / (tp x pp) at every point instead of making most points invalid).
nlohmann::json sweep_base(const nlohmann::json& base, const std::vector<SweepAxis>& axes, bool derive_dp = true);

// Runs the grid synchronously. `progress(done, total)` is called after each point (may be empty);
// `cancelled()` is polled between points and inside each simulation.
SweepOutput run_sweep_grid(const nlohmann::json& base, const std::vector<SweepAxis>& axes,
                           const std::function<bool()>& cancelled = {},
                           const std::function<void(int, int)>& progress = {});

class SweepRunner : public QObject {
  Q_OBJECT
 public:
  explicit SweepRunner(QObject* parent = nullptr);
  ~SweepRunner() override;

  // Starts a sweep (a running one is cancelled first).
  void start(const nlohmann::json& base, const std::vector<SweepAxis>& axes);
  void cancel();
  bool running() const { return running_; }

 signals:
  void progress(int done, int total);
  void finished(const clustersim::gui::SweepOutput& output);

 private:
  struct State {
    std::atomic<bool> cancel{false};
    std::atomic<int> done{0};
    std::atomic<int> total{0};
  };
  std::shared_ptr<State> state_;
  QTimer poll_;
  bool running_ = false;
};

}  // namespace clustersim::gui

Q_DECLARE_METATYPE(clustersim::gui::SweepOutput)
