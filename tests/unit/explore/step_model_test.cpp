// The step model with costed compute (explore/step_model.hpp): its compute is the simulator's own
// costing of the same ops, and it falls back to the closed form when the plan cannot be costed.
#include <gtest/gtest.h>

#include <cmath>

#include "clustersim/engine/simulate.hpp"
#include "clustersim/explore/step_model.hpp"
#include "clustersim/models/build.hpp"

namespace clustersim::explore {
namespace {

using nlohmann::json;

// GPT-3 350M, tp 2 on one node of 2 A100s, one micro-batch per step: no pipeline, no accumulation,
// no data parallelism.
json one_microbatch() {
  return json::parse(R"({
    "name": "step-model",
    "cluster": { "nodes": 1, "gpus_per_node": 2, "gpu": "A100-80GB" },
    "model": { "architecture": "gpt3-350m", "seq_len": 1024 },
    "training": { "global_batch": 2, "micro_batch": 2, "precision": "bf16" },
    "parallelism": { "tp": 2 }
  })");
}

// With one micro-batch the model's compute + optimizer must be the busy time of the simulated
// compute stream, which costs the same ops with the same roofline model (the simulation adds no
// compute of its own; overlap slowdown is 1 without a calibration profile).
TEST(StepModel, CostedComputeIsTheSimulatedComputeStreamOfOneMicroBatch) {
  const models::Scenario sc = models::parse_scenario(one_microbatch());
  const StepModel m = step_model(sc, estimate_step(sc));
  ASSERT_TRUE(m.costed);
  engine::SimulationOptions o;
  o.record_ops = false;
  const plan::Trace t = engine::simulate(models::build_plan(sc), models::hardware_of(sc), o);
  EXPECT_NEAR(m.compute_s + m.optimizer_s, t.summary.compute_time_s, 0.01 * t.summary.compute_time_s);
  EXPECT_NEAR(m.step_time_s, m.compute_s + m.tp_comm_s + m.bubble_s + m.dp_exposed_s + m.optimizer_s,
              1e-12 * m.step_time_s);
}

// Accumulation multiplies the per-micro-batch compute: m micro-batches cost m times one.
TEST(StepModel, ComputeScalesWithTheMicroBatchesOfAStep) {
  json j = one_microbatch();
  const models::Scenario one = models::parse_scenario(j);
  j["training"]["global_batch"] = 16;
  const models::Scenario eight = models::parse_scenario(j);
  const StepModel a = step_model(one, estimate_step(one));
  const StepModel b = step_model(eight, estimate_step(eight));
  ASSERT_TRUE(a.costed && b.costed);
  EXPECT_NEAR(b.compute_s, 8.0 * a.compute_s, 1e-9 * b.compute_s);
}

// The "calibrated" cost model without a profile cannot cost anything: the closed form answers.
TEST(StepModel, FallsBackToTheClosedFormWhenThePlanCannotBeCosted) {
  const models::Scenario sc = models::parse_scenario(one_microbatch());
  const Estimate e = estimate_step(sc);
  const StepModel m = step_model(sc, e, "calibrated", nullptr);
  EXPECT_FALSE(m.costed);
  EXPECT_DOUBLE_EQ(m.step_time_s, e.step_time_s);
  EXPECT_DOUBLE_EQ(m.compute_s, e.compute_s);
}

}  // namespace
}  // namespace clustersim::explore
