// Grid sweeps over one or two knobs, in-process, through models + engine, written with the reports
// library's CSV columns.
#include "core/sweep_runner.hpp"

#include <QFutureWatcher>
#include <QtConcurrent/QtConcurrentRun>

#include "clustersim/models/scenario.hpp"
#include "clustersim/plan/error.hpp"
#include "clustersim/reports/csv_report.hpp"
#include "core/prediction.hpp"

namespace clustersim::gui {

namespace {

std::string value_text(const nlohmann::json& v) {
  if (v.is_null()) return "";
  if (v.is_string()) return v.get<std::string>();
  return v.dump();
}

}  // namespace

nlohmann::json sweep_base(const nlohmann::json& base, const std::vector<SweepAxis>& axes, bool derive_dp) {
  nlohmann::json j = base;
  if (!derive_dp) return j;
  bool shape = false, dp = false;
  for (const auto& a : axes) {
    shape = shape || a.path == "parallelism.tp" || a.path == "parallelism.pp";
    dp = dp || a.path == "parallelism.dp";
  }
  if (shape && !dp && j.is_object() && j.contains("parallelism") && j["parallelism"].is_object())
    j["parallelism"].erase("dp");
  return j;
}

SweepOutput run_sweep_grid(const nlohmann::json& base, const std::vector<SweepAxis>& axes,
                           const std::function<bool()>& cancelled, const std::function<void(int, int)>& progress) {
  SweepOutput out;
  reports::CsvColumns names;
  int total = axes.empty() ? 0 : 1;
  for (const auto& a : axes) {
    names.emplace_back(a.path, "");
    total *= static_cast<int>(a.values.size());
  }
  out.csv = reports::csv_header(names) + "\n";
  std::vector<std::size_t> at(axes.size(), 0);
  for (int done = 0; done < total; ++done) {
    if (cancelled && cancelled()) {
      out.cancelled = true;
      break;
    }
    // The point's assignments (the last axis varies fastest).
    std::size_t rest = static_cast<std::size_t>(done);
    for (std::size_t a = axes.size(); a-- > 0;) {
      at[a] = rest % axes[a].values.size();
      rest /= axes[a].values.size();
    }
    nlohmann::json j = base;
    reports::CsvColumns extra;
    std::string label;
    for (std::size_t a = 0; a < axes.size(); ++a) {
      const auto& v = axes[a].values[at[a]];
      extra.emplace_back(axes[a].path, value_text(v));
      label += (a ? ", " : "") + axes[a].path + "=" + (v.is_null() ? std::string("auto") : value_text(v));
    }
    try {
      for (std::size_t a = 0; a < axes.size(); ++a) models::set_path(j, axes[a].path, axes[a].values[at[a]]);
      const models::Scenario scenario = models::parse_scenario(j);
      const PredictionPtr p = predict(scenario, 0, cancelled, /*record_ops=*/false);
      reports::ReportContext context;
      context.title = scenario.name;
      out.csv += reports::csv_row(p->trace, context, extra) + "\n";
      ++out.points;
    } catch (const PredictionCancelled&) {
      out.cancelled = true;
      break;
    } catch (const std::exception& e) {
      out.skipped << QString::fromStdString(label + ": " + e.what());
    }
    if (progress) progress(done + 1, total);
  }
  return out;
}

SweepRunner::SweepRunner(QObject* parent) : QObject(parent) {
  static const int registered = qRegisterMetaType<clustersim::gui::SweepOutput>("clustersim::gui::SweepOutput");
  (void)registered;
  poll_.setInterval(100);
  connect(&poll_, &QTimer::timeout, this, [this] {
    if (state_) emit progress(state_->done.load(), state_->total.load());
  });
}

SweepRunner::~SweepRunner() {
  if (state_) state_->cancel = true;
}

void SweepRunner::cancel() {
  if (state_) state_->cancel = true;
}

void SweepRunner::start(const nlohmann::json& base, const std::vector<SweepAxis>& axes) {
  cancel();
  auto state = std::make_shared<State>();
  state_ = state;
  running_ = true;
  poll_.start();
  auto* watcher = new QFutureWatcher<SweepOutput>(this);
  connect(watcher, &QFutureWatcher<SweepOutput>::finished, this, [this, watcher, state] {
    const SweepOutput output = watcher->result();
    watcher->deleteLater();
    if (state != state_) return;  // superseded by a newer sweep
    poll_.stop();
    running_ = false;
    emit progress(state->done.load(), state->total.load());
    emit finished(output);
  });
  watcher->setFuture(QtConcurrent::run([base, axes, state]() {
    return run_sweep_grid(
        base, axes, [state] { return state->cancel.load(); },
        [state](int done, int total) {
          state->done = done;
          state->total = total;
        });
  }));
}

}  // namespace clustersim::gui
