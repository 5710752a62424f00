// Google Benchmark of the dashboard's live update: the time from a knob change on the model layer
// (ScenarioDocument::set_knob, which validates with models::parse_scenario) to the new prediction
// applied to every view model (Dashboard::result_applied), with the debounce delay skipped
// (PredictionService::flush). The prediction itself (build_plan + simulate) runs on the worker
// thread exactly as in the window. A second benchmark times Dashboard::apply alone: the dashboard's
// own share (summary, memory, communication, timeline and validation models) of an update.
//   BM_KnobToViewModels/<scenario>: end to end, one knob toggled between two values per iteration;
//     counter preview_ms: knob change to the preview (the Summary's estimated headline figures,
//     preview.hpp) on display, which happens synchronously inside the edit
//   BM_ApplyToViewModels/<scenario>: swapping a finished prediction into the view models
// Counters: ms per update, mean build_plan and simulate ms per update (worker thread), op spans in
// the prediction, GPUs.
#include <benchmark/benchmark.h>

#include <chrono>
#include <string>

#include <QCoreApplication>
#include <QElapsedTimer>
#include <QEventLoop>

#include "clustersim/models/scenario.hpp"
#include "core/dashboard.hpp"

namespace clustersim::gui {
namespace {

// GPT-3 13B on 128 nodes x 8 A100 (1,024 GPUs): tp 8 x pp 4 x dp 32, 16 micro-batches per step.
const char* kGpt13b1024 = R"({
  "name": "gpt3-13b-1024xA100",
  "cluster": { "nodes": 128, "gpus_per_node": 8, "gpu": "A100-80GB",
               "inter_node": { "link": "ib-hdr-200", "nics_per_node": 8 } },
  "model": { "architecture": "gpt3-13b", "seq_len": 2048 },
  "training": { "global_batch": 512, "micro_batch": 1, "zero_stage": 1, "bucket_mib": 25 },
  "parallelism": { "tp": 8, "pp": 4 }
})";

nlohmann::json scenario(const std::string& which) {
  const std::string root = CLUSTERSIM_SOURCE_DIR;
  if (which == "gpt3-175b-1024xA100") return models::load_scenario_json(root + "/scenarios/gpt3-175b-1024xA100.json");
  if (which == "gpt3-13b-1024xA100") return nlohmann::json::parse(kGpt13b1024);
  if (which == "default") return models::load_scenario_json(root + "/scenarios/default.json");
  return models::load_scenario_json(root + "/tests/unit/gui/data/small.json");
}

// Blocks in an event loop (no busy polling, which would steal a core from the worker) until the
// dashboard has applied the prediction of `revision`, or the prediction failed.
bool wait_for(Dashboard& d, std::uint64_t revision) {
  const auto done = [&] { return d.current() && d.current()->revision == revision; };
  if (done()) return true;
  if (!d.document().valid()) return false;
  QEventLoop loop;
  QObject::connect(&d, &Dashboard::result_applied, &loop, [&] {
    if (done()) loop.quit();
  });
  QObject::connect(&d, &Dashboard::prediction_error_changed, &loop, &QEventLoop::quit);
  QObject::connect(&d, &Dashboard::busy_changed, &loop, [&](bool busy) {
    if (!busy) loop.quit();
  });
  loop.exec();
  return done();
}

void BM_KnobToViewModels(benchmark::State& state, const std::string& which) {
  Dashboard d;
  d.predictor().set_debounce_ms(0);
  try {
    d.document().set_json(scenario(which));
  } catch (const std::exception& e) {
    state.SkipWithError(e.what());
    return;
  }
  d.predictor().flush();
  if (!wait_for(d, d.document().revision())) {
    state.SkipWithError(
        ("no prediction: " + d.document().error().message.toStdString() + d.prediction_error().message.toStdString())
            .c_str());
    return;
  }
  // The knob: the gradient bucket size, toggled 25 <-> 50 MiB (a full rebuild and re-simulation of
  // a plan of the same size every time).
  const Knob* knob = find_knob(d.knobs(), "bucket_mib");
  double total_ms = 0.0, build_ms = 0.0, simulate_ms = 0.0, preview_ms = 0.0;
  std::int64_t previews = 0;
  bool flip = false;
  for (auto _ : state) {
    flip = !flip;
    QElapsedTimer timer;
    timer.start();
    d.document().set_knob(*knob, flip ? 50.0 : 25.0);
    preview_ms += static_cast<double>(timer.nsecsElapsed()) * 1e-6;
    if (d.preview() && d.preview()->revision == d.document().revision()) ++previews;
    d.predictor().flush();  // skip the debounce delay
    if (!wait_for(d, d.document().revision())) {
      state.SkipWithError("the prediction failed");
      return;
    }
    const double ms = static_cast<double>(timer.nsecsElapsed()) * 1e-6;
    state.SetIterationTime(ms * 1e-3);
    total_ms += ms;
    build_ms += d.current()->build_ms;
    simulate_ms += d.current()->simulate_ms;
  }
  state.counters["ms_per_update"] = total_ms / static_cast<double>(state.iterations());
  state.counters["preview_ms"] = preview_ms / static_cast<double>(state.iterations());
  state.counters["previews"] = static_cast<double>(previews) / static_cast<double>(state.iterations());
  state.counters["op_spans"] = static_cast<double>(d.current()->trace.ops.size());
  state.counters["gpus"] = d.current()->world_size;
  state.counters["build_ms"] = build_ms / static_cast<double>(state.iterations());
  state.counters["simulate_ms"] = simulate_ms / static_cast<double>(state.iterations());
}

void BM_ApplyToViewModels(benchmark::State& state, const std::string& which) {
  Dashboard d;
  PredictionPtr result;
  try {
    result = predict(models::parse_scenario(scenario(which)), 1);
  } catch (const std::exception& e) {
    state.SkipWithError(e.what());
    return;
  }
  for (auto _ : state) d.apply(result);
  state.counters["op_spans"] = static_cast<double>(result->trace.ops.size());
  state.counters["gpus"] = result->world_size;
}

BENCHMARK_CAPTURE(BM_KnobToViewModels, small_8gpu, std::string("small"))
    ->UseManualTime()
    ->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_KnobToViewModels, gpt3_13b_1024gpu, std::string("gpt3-13b-1024xA100"))
    ->UseManualTime()
    ->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_KnobToViewModels, gpt3_175b_1024gpu, std::string("gpt3-175b-1024xA100"))
    ->UseManualTime()
    ->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_ApplyToViewModels, gpt3_13b_1024gpu, std::string("gpt3-13b-1024xA100"))
    ->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_ApplyToViewModels, gpt3_175b_1024gpu, std::string("gpt3-175b-1024xA100"))
    ->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace clustersim::gui

int main(int argc, char** argv) {
  QCoreApplication app(argc, argv);
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
