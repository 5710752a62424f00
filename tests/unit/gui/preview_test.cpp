// The dashboard's preview (gui/src/core/preview.hpp): the closed-form estimate of a new
// configuration anchored to the last simulated prediction, shown at once while the simulation runs.
//  * Anchored to its own simulation, a preview must give back the simulated figures: step time and
//    peak memory by construction of the ratios, and throughput and MFU because the preview uses the
//    same definitions as the engine (tokens per step / step time; model FLOPs / (step x GPUs x dense
//    peak), Narayanan et al. SC'21).
//  * Across single knob changes the anchored preview must stay close to what the simulation then
//    says; the tolerances below (25% step time, 10% peak memory, and the direction of every change
//    the simulation sees as larger than 10%) are what a preview is for: the size and direction of a
//    change before the simulation lands. Measured when written: worst 14.8% step time (A100 -> H100,
//    where the anchor's network share does not carry over) and 6.8% memory (pp 1 -> 2). Without the
//    costed compute (closed form only) the worst step error was 29% and two directions were wrong.
//  * The dashboard shows it synchronously inside the edit and drops it when the simulation lands.
#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "core/dashboard.hpp"
#include "core/preview.hpp"
#include "gui_test_support.hpp"

namespace clustersim::gui {
namespace {

// GPT-3 350M on 2 nodes x 8 A100s, dp 8 x tp 2, 4 micro-batches per step: a configuration whose
// neighbours (tp, pp, ZeRO, recompute, precision, micro-batch, GPU) simulate in well under a second.
nlohmann::json base_scenario() {
  return nlohmann::json::parse(R"({
    "name": "preview-base",
    "cluster": { "nodes": 2, "gpus_per_node": 8, "gpu": "A100-80GB", "inter_node": { "link": "ib-ndr-400" } },
    "model": { "architecture": "gpt3-350m", "seq_len": 1024 },
    "training": { "global_batch": 64, "micro_batch": 2, "precision": "bf16", "zero_stage": 1 },
    "parallelism": { "tp": 2 }
  })");
}

double rel(double a, double b) {
  return std::abs(a - b) / std::abs(b);
}

TEST(Preview, AnchoredToItsOwnSimulationGivesItsFiguresBack) {
  const models::Scenario sc = models::parse_scenario(base_scenario());
  const PredictionPtr sim = predict(sc, 1);
  ASSERT_TRUE(sim->facts.has_value());
  const PreviewPtr p = make_preview(sc, 2, sim.get());
  ASSERT_TRUE(p);
  EXPECT_EQ(p->anchor_revision, 1u);
  const plan::Summary& s = sim->trace.summary;
  EXPECT_LT(rel(p->step_time_s, s.step_time_s), 1e-12);
  EXPECT_NEAR(static_cast<double>(p->peak_memory_bytes), static_cast<double>(s.peak_memory_bytes), 1.0);
  EXPECT_EQ(p->capacity_bytes, s.capacity_bytes);
  EXPECT_EQ(p->fits, s.fits);
  EXPECT_LT(rel(p->tokens_per_s, s.tokens_per_s), 1e-12);
  EXPECT_LT(rel(p->samples_per_s, s.samples_per_s), 1e-12);
  EXPECT_LT(rel(p->mfu, s.mfu), 1e-12);
}

TEST(Preview, WithoutAnchorItIsTheStepModel) {
  const models::Scenario sc = models::parse_scenario(base_scenario());
  const PreviewPtr p = make_preview(sc, 1, nullptr);
  ASSERT_TRUE(p);
  EXPECT_EQ(p->anchor_revision, 0u);
  const explore::Estimate e = explore::estimate_step(sc);
  const explore::StepModel m = explore::step_model(sc, e);
  EXPECT_TRUE(m.costed);
  EXPECT_DOUBLE_EQ(p->step_time_s, m.step_time_s);
  EXPECT_NEAR(p->compute_s + p->exposed_comm_s + p->bubble_s + p->other_s, p->step_time_s, 1e-12);
  EXPECT_NEAR(static_cast<double>(p->peak_memory_bytes), e.peak_memory_bytes, 1.0);
}

TEST(Preview, NonTransformersHaveNone) {
  const models::Scenario mlp = models::parse_scenario(nlohmann::json::parse(R"({
    "name": "mlp",
    "cluster": { "nodes": 1, "gpus_per_node": 2, "gpu": "A100-80GB" },
    "model": { "architecture": "mlp" },
    "training": { "global_batch": 64, "micro_batch": 32 },
    "parallelism": { "dp": 2 }
  })"));
  EXPECT_FALSE(estimate_facts(mlp).has_value());
  EXPECT_EQ(make_preview(mlp, 1, nullptr), nullptr);
}

TEST(Preview, AnchoredPreviewTracksTheSimulationAcrossSingleKnobChanges) {
  const nlohmann::json base = base_scenario();
  const PredictionPtr anchor = predict(models::parse_scenario(base), 1);
  struct Change {
    const char* path;
    nlohmann::json value;
  };
  const std::vector<Change> changes = {
      {"training.micro_batch", 4},
      {"training.micro_batch", 1},
      {"parallelism.tp", 4},
      {"parallelism.tp", 1},
      {"parallelism.pp", 2},
      {"training.zero_stage", 2},
      {"training.recompute", "full"},
      {"training.recompute", "selective"},
      {"training.precision", "fp32"},
      {"training.global_batch", 128},
      {"cluster.gpu", "H100-SXM-80GB"},
      {"cluster.nodes", 4},
  };
  double worst_step = 0.0, worst_memory = 0.0;
  for (const Change& c : changes) {
    nlohmann::json j = base;
    models::set_path(j, c.path, c.value);
    const models::Scenario sc = models::parse_scenario(j);
    const PredictionPtr sim = predict(sc, 2);
    const PreviewPtr p = make_preview(sc, 2, anchor.get());
    ASSERT_TRUE(p) << c.path;
    const double step_err = rel(p->step_time_s, sim->trace.summary.step_time_s);
    const double mem_err =
        rel(static_cast<double>(p->peak_memory_bytes), static_cast<double>(sim->trace.summary.peak_memory_bytes));
    worst_step = std::max(worst_step, step_err);
    worst_memory = std::max(worst_memory, mem_err);
    // A preview that got the direction of the change wrong by more than a small margin would
    // mislead: when the simulation moves by more than 10%, the preview moves the same way.
    const double sim_change = sim->trace.summary.step_time_s / anchor->trace.summary.step_time_s - 1.0;
    const double preview_change = p->step_time_s / anchor->trace.summary.step_time_s - 1.0;
    if (std::abs(sim_change) > 0.10) {
      EXPECT_GT(sim_change * preview_change, 0.0) << c.path << "=" << c.value;
    }
    EXPECT_LT(step_err, 0.25) << c.path << "=" << c.value << ": preview " << p->step_time_s << " s, simulated "
                              << sim->trace.summary.step_time_s << " s";
    EXPECT_LT(mem_err, 0.10) << c.path << "=" << c.value << ": preview " << p->peak_memory_bytes << " B, simulated "
                             << sim->trace.summary.peak_memory_bytes << " B";
    std::printf("preview %-22s %-16s sim change %+6.1f%% preview change %+6.1f%%  step %+6.1f%%  memory %+6.1f%%\n",
                c.path, c.value.dump().c_str(), 100.0 * sim_change, 100.0 * preview_change,
                100.0 * (p->step_time_s / sim->trace.summary.step_time_s - 1.0),
                100.0 * (static_cast<double>(p->peak_memory_bytes) / sim->trace.summary.peak_memory_bytes - 1.0));
  }
  std::printf("preview worst error over %zu knob changes: step %.1f%%, memory %.1f%%\n", changes.size(),
              100.0 * worst_step, 100.0 * worst_memory);
}

TEST(Dashboard, AKnobChangeShowsAPreviewAtOnceAndTheSimulationReplacesIt) {
  Dashboard d;
  d.predictor().set_debounce_ms(0);
  d.document().set_json(base_scenario());
  ASSERT_TRUE(testing::wait_until([&] { return d.current() && !d.predictor().busy(); }));
  EXPECT_EQ(d.preview(), nullptr) << "the simulation is current: no preview on display";

  const Knob* knob = find_knob(d.knobs(), "micro_batch");
  ASSERT_NE(knob, nullptr);
  d.document().set_knob(*knob, 4.0);
  // Synchronously, before any event is processed: the preview of the new revision is on display.
  ASSERT_TRUE(d.preview());
  EXPECT_EQ(d.preview()->revision, d.document().revision());
  EXPECT_EQ(d.preview()->anchor_revision, d.current()->revision);
  const SummaryModel::Row* step = d.summary().row("step_time");
  ASSERT_NE(step, nullptr);
  EXPECT_TRUE(step->estimated);
  EXPECT_TRUE(step->value.startsWith(QStringLiteral("≈")));
  EXPECT_DOUBLE_EQ(step->raw, d.preview()->step_time_s);
  const SummaryModel::Row* gpus = d.summary().row("gpus");
  ASSERT_NE(gpus, nullptr);
  EXPECT_FALSE(gpus->estimated);

  const std::uint64_t revision = d.document().revision();
  ASSERT_TRUE(testing::wait_until([&] { return d.current() && d.current()->revision == revision; }));
  EXPECT_EQ(d.preview(), nullptr);
  step = d.summary().row("step_time");
  ASSERT_NE(step, nullptr);
  EXPECT_FALSE(step->estimated);
  EXPECT_DOUBLE_EQ(step->raw, d.current()->trace.summary.step_time_s);

  // An invalid edit drops the preview (nothing to estimate) and says so; the last prediction stays,
  // stale.
  d.document().set_knob(*knob, 2.0);
  ASSERT_TRUE(d.preview());
  int changes = 0;
  QObject::connect(&d, &Dashboard::preview_applied, [&] { ++changes; });
  d.document().set_value("parallelism.tp", 3);
  EXPECT_FALSE(d.document().valid());
  EXPECT_EQ(d.preview(), nullptr);
  EXPECT_EQ(changes, 1);
  EXPECT_TRUE(d.stale());
}

}  // namespace
}  // namespace clustersim::gui
