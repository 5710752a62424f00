// PredictionService: debounce timer, QtConcurrent worker, supersede-by-revision.
#include "core/prediction_service.hpp"

#include <QFutureWatcher>
#include <QtConcurrent/QtConcurrentRun>

#include "clustersim/plan/error.hpp"

namespace clustersim::gui {

namespace {

struct Outcome {
  std::uint64_t revision = 0;
  PredictionPtr result;
  QString message, json_path;
  bool cancelled = false;
};

}  // namespace

PredictionService::PredictionService(QObject* parent)
    : QObject(parent), latest_(std::make_shared<std::atomic<std::uint64_t>>(0)) {
  static const int registered = qRegisterMetaType<clustersim::gui::PredictionPtr>("clustersim::gui::PredictionPtr");
  (void)registered;
  timer_.setSingleShot(true);
  timer_.setInterval(150);
  connect(&timer_, &QTimer::timeout, this, &PredictionService::start);
}

PredictionService::~PredictionService() {
  // Running computations see a revision that is never current and stop at their next check; their
  // watchers are children of this object and go with it.
  latest_->store(0);
}

void PredictionService::set_debounce_ms(int ms) {
  timer_.setInterval(ms < 0 ? 0 : ms);
}

int PredictionService::debounce_ms() const {
  return timer_.interval();
}

void PredictionService::request(std::shared_ptr<const models::Scenario> scenario, std::uint64_t revision) {
  pending_ = std::move(scenario);
  pending_revision_ = revision;
  latest_->store(revision);  // a computation of an older revision stops at its next check
  const bool was_busy = busy();
  timer_.start();
  if (!was_busy) emit busy_changed(true);
}

void PredictionService::flush() {
  if (!timer_.isActive()) return;
  timer_.stop();
  start();
}

void PredictionService::cancel() {
  const bool was_busy = busy();
  timer_.stop();
  pending_.reset();
  latest_->store(0);
  if (was_busy != busy()) emit busy_changed(busy());
}

void PredictionService::start() {
  if (!pending_) return;
  std::shared_ptr<const models::Scenario> scenario = std::move(pending_);
  pending_.reset();
  const std::uint64_t revision = pending_revision_;
  std::shared_ptr<std::atomic<std::uint64_t>> latest = latest_;
  ++running_;
  ++started_;

  auto* watcher = new QFutureWatcher<Outcome>(this);
  connect(watcher, &QFutureWatcher<Outcome>::finished, this, [this, watcher] {
    const Outcome outcome = watcher->result();
    watcher->deleteLater();
    --running_;
    if (outcome.cancelled || outcome.revision != latest_->load()) {
      ++superseded_;
    } else if (outcome.result) {
      emit result_ready(outcome.result);
    } else {
      emit failed(outcome.revision, outcome.message, outcome.json_path);
    }
    if (!busy()) emit busy_changed(false);
  });
  watcher->setFuture(QtConcurrent::run([scenario, revision, latest]() -> Outcome {
    Outcome out;
    out.revision = revision;
    try {
      out.result = predict(*scenario, revision, [&] { return latest->load() != revision; });
    } catch (const PredictionCancelled&) {
      out.cancelled = true;
    } catch (const InputError& e) {
      out.message = QString::fromStdString(e.what());
      out.json_path = QString::fromStdString(e.json_path());
    } catch (const std::exception& e) {
      out.message = QString::fromStdString(e.what());
    }
    return out;
  }));
}

}  // namespace clustersim::gui
