// Live prediction off the GUI thread. `request` (re)starts a debounce timer (about 150 ms, so a
// burst of keystrokes costs one simulation); when it fires, the latest scenario is predicted on the
// global thread pool (QtConcurrent). Each request supersedes the earlier ones: a running computation
// whose revision is no longer the latest is cancelled through its cancellation callback (which the
// simulator polls via SimulationOptions::progress), and any result that still arrives for an older
// revision is dropped. Results come back on the GUI thread as a PredictionPtr; failures as the
// library's message and JSON path.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>

#include <QObject>
#include <QString>
#include <QTimer>

#include "core/prediction.hpp"

namespace clustersim::gui {

class PredictionService : public QObject {
  Q_OBJECT
 public:
  explicit PredictionService(QObject* parent = nullptr);
  ~PredictionService() override;

  // Debounce delay in milliseconds (0: start on the next event-loop turn).
  void set_debounce_ms(int ms);
  int debounce_ms() const;

  // Asks for a prediction of `scenario` (made from document revision `revision`); supersedes every
  // earlier request.
  void request(std::shared_ptr<const models::Scenario> scenario, std::uint64_t revision);
  // Starts the pending request now, skipping the rest of the debounce delay.
  void flush();
  // Drops the pending request and cancels the running one (e.g. the scenario became invalid).
  void cancel();

  bool busy() const { return running_ > 0 || timer_.isActive(); }
  // The newest revision requested so far.
  std::uint64_t latest_revision() const { return latest_->load(); }
  // Computations started and computations whose result was dropped or cancelled (for tests).
  int started_count() const { return started_; }
  int superseded_count() const { return superseded_; }

 signals:
  void result_ready(clustersim::gui::PredictionPtr result);
  void failed(quint64 revision, const QString& message, const QString& json_path);
  void busy_changed(bool busy);

 private:
  void start();

  QTimer timer_;
  std::shared_ptr<const models::Scenario> pending_;
  std::uint64_t pending_revision_ = 0;
  std::shared_ptr<std::atomic<std::uint64_t>> latest_;
  int running_ = 0;
  int started_ = 0;
  int superseded_ = 0;
};

}  // namespace clustersim::gui

Q_DECLARE_METATYPE(clustersim::gui::PredictionPtr)
