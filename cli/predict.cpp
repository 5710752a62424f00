// `clustersim predict SCENARIO`: scenario -> plan -> simulated step -> report, plus optional trace,
// Chrome trace and HTML files.
#include <iostream>

#include <fmt/format.h>

#include "clustersim/engine/simulate.hpp"
#include "clustersim/models/build.hpp"
#include "clustersim/plan/json.hpp"
#include "clustersim/reports/chrome_trace.hpp"
#include "clustersim/reports/format.hpp"
#include "clustersim/reports/html.hpp"
#include "clustersim/reports/reporter.hpp"
#include "commands.hpp"
#include "common.hpp"

namespace clustersim::cli {

namespace {
struct PredictArgs {
  std::string scenario;
  std::vector<std::string> overrides;
  std::string format = "table";
  std::string trace, chrome_trace, html, plan_out, output = "-";
  bool require_fit = false;
  bool timeline = false;
  bool progress = true;
};
}  // namespace

CommandEntry add_predict(CLI::App& app) {
  auto args = std::make_shared<PredictArgs>();
  CLI::App* cmd = app.add_subcommand("predict", "Predict one training step of a scenario: memory, time, throughput, "
                                                "communication");
  cmd->add_option("scenario", args->scenario, "Scenario JSON file")->required();
  cmd->add_option("--set", args->overrides, "Override a scenario field: path=value (repeatable), e.g. "
                                            "--set parallelism.tp=4 --set training.precision=fp8");
  cmd->add_option("--format", args->format, "Report format: table, json or csv")->default_val("table");
  cmd->add_option("-o,--output", args->output, "Write the report to a file instead of stdout");
  cmd->add_option("--trace", args->trace, "Write the predicted trace (clustersim.trace/1 JSON)");
  cmd->add_option("--chrome-trace", args->chrome_trace, "Write a Chrome/Perfetto trace (open in ui.perfetto.dev)");
  cmd->add_option("--html", args->html, "Write a self-contained HTML report");
  cmd->add_option("--plan", args->plan_out, "Write the compiled plan (JSON)");
  cmd->add_flag("--require-fit", args->require_fit, "Exit with 1 when the step does not fit in GPU memory");
  cmd->add_flag("--timeline", args->timeline, "Include the memory timeline in JSON output");
  cmd->add_flag("!--no-progress", args->progress, "Do not draw a progress bar");
  return {cmd, [args]() {
    const LoadedScenario loaded = load_scenario(args->scenario, args->overrides);
    const models::Scenario& sc = loaded.scenario;
    // The plan and trace of a 10^3-GPU prediction hold millions of small allocations; freeing them
    // one by one costs more than the prediction, so the process exit reclaims them instead.
    const plan::Plan& plan = *new plan::Plan(models::build_plan(sc));
    if (!args->plan_out.empty())
      write_text_file(args->plan_out, [&](std::ostream& os) { os << plan::to_json(plan).dump() << '\n'; });
    engine::SimulationOptions options = simulation_options(sc);
    options.progress = progress_bar("simulating", args->progress);
    const plan::Hardware hardware = models::hardware_of(sc);
    plan::Trace& trace = *new plan::Trace(engine::simulate(plan, hardware, options));
    reports::ReportContext context = report_context(sc, plan);
    if (!hardware.slowdowns.empty() || !hardware.degradations.empty()) {
      // Stragglers and degraded links: show what they cost against the same step without them.
      plan::Hardware healthy = hardware;
      healthy.slowdowns.clear();
      healthy.degradations.clear();
      engine::SimulationOptions quiet = simulation_options(sc);
      quiet.record_ops = false;
      quiet.record_memory_timeline = false;
      const plan::Trace baseline = engine::simulate(plan, healthy, quiet);
      const double base = baseline.summary.step_time_s, now = trace.summary.step_time_s;
      context.facts.emplace_back(
          "perturbations",
          fmt::format("{} straggler{}, {} degraded link{}: step {} vs {} without them ({:+.1f}%)", hardware.slowdowns.size(),
                      hardware.slowdowns.size() == 1 ? "" : "s", hardware.degradations.size(),
                      hardware.degradations.size() == 1 ? "" : "s", reports::format_duration_s(now),
                      reports::format_duration_s(base), base > 0 ? 100.0 * (now / base - 1.0) : 0.0));
      trace.extra["unperturbed_step_time_s"] = base;
    }
    reports::RenderOptions render;
    render.include_timeline = args->timeline;
    write_text_file(args->output,
                    [&](std::ostream& os) { reports::write_report(args->format, trace, context, os, render); });
    if (!args->trace.empty())
      write_text_file(args->trace, [&](std::ostream& os) { os << plan::to_json(trace).dump() << '\n'; });
    if (!args->chrome_trace.empty())
      write_text_file(args->chrome_trace, [&](std::ostream& os) { reports::write_chrome_trace(trace, os); });
    if (!args->html.empty())
      write_text_file(args->html, [&](std::ostream& os) { reports::write_html_report(trace, context, os); });
    if (args->require_fit && !trace.summary.fits)
      throw CheckFailed("the step does not fit: peak " + std::to_string(trace.summary.peak_memory_bytes) +
                        " bytes > usable " + std::to_string(trace.summary.capacity_bytes) + " bytes per GPU");
    return kExitOk;
  }};
}

}  // namespace clustersim::cli
