// The simulated pipeline bubble of the builder's own schedules (pipeline_schedule.hpp) on uniform
// stages, against Narayanan et al., SC'21 ("Efficient Large-Scale Language Model Training on GPU
// Clusters Using Megatron-LM"), section 2.2: the bubble is (p - 1) / m of the ideal time for GPipe
// and 1F1B, i.e. (p - 1) / (m + p - 1) of the step, and (p - 1) / (v m) of the ideal time for the
// interleaved schedule with v model chunks per stage. Each stage runs one GEMM per chunk forward
// (backward: twice the FLOPs), 1/v of a stage's layers; activations and gradients travel by
// point-to-point transfers between consecutive model chunks (model chunk = chunk * p + stage).
#include <gtest/gtest.h>

#include <array>
#include <string>
#include <utility>
#include <vector>

#include "build/pipeline_schedule.hpp"
#include "clustersim/engine/simulate.hpp"
#include "test_plans.hpp"

namespace clustersim::models::build {
namespace {

using clustersim::test::PlanBuilder;

plan::Plan uniform_pipeline(PipelineSchedule schedule, std::int32_t p, std::int32_t m, std::int32_t v) {
  PlanBuilder b(p);
  std::vector<plan::Rank> ranks;
  for (std::int32_t i = 0; i < p; ++i) ranks.push_back(i);
  b.group(GroupKind::pp, ranks);
  const std::int64_t k = 4096 / v;  // a chunk is 1/v of the stage's work
  for (std::int32_t s = 0; s < p; ++s) {
    const auto prog = b.program("stage" + std::to_string(s), {StreamKind::compute, StreamKind::comm, StreamKind::comm,
                                                              StreamKind::comm, StreamKind::comm});
    b.assign(s, prog);
    for (const PipelineStep& step : pipeline_schedule(schedule, p, s, m, v)) {
      const std::int32_t chunk = step.chunk * p + s, chunks = v * p;
      // Tags name the receiving model chunk and the direction, so transfers between the same two
      // stages for different chunks never match each other.
      std::vector<plan::OpId> deps;
      if (step.forward && chunk > 0) deps.push_back(b.recv(prog, 1, GroupKind::pp, -1, 0, {}, 2 * chunk));
      if (!step.forward && chunk < chunks - 1) deps.push_back(b.recv(prog, 2, GroupKind::pp, 1, 0, {}, 2 * chunk + 1));
      const auto op = b.gemm(prog, 0, 4096, 4096, step.forward ? k : 2 * k, DType::bf16, deps);
      b.at(prog, op).tags.microbatch = step.microbatch;
      if (step.forward && chunk < chunks - 1) b.send(prog, 3, GroupKind::pp, 1, 0, {op}, 2 * (chunk + 1));
      if (!step.forward && chunk > 0) b.send(prog, 4, GroupKind::pp, -1, 0, {op}, 2 * (chunk - 1) + 1);
    }
  }
  return b.build();
}

double bubble(PipelineSchedule schedule, std::int32_t p, std::int32_t m, std::int32_t v) {
  return engine::simulate(uniform_pipeline(schedule, p, m, v), clustersim::test::test_hardware(1, p)).summary.bubble_fraction;
}

TEST(PipelineBubble, GPipeAndOneFOneBFollowTheClosedForm) {
  for (const auto& [p, m] : std::vector<std::pair<int, int>>{{4, 8}, {4, 16}, {8, 16}}) {
    const double expected = (p - 1.0) / (m + p - 1.0);
    for (PipelineSchedule s : {PipelineSchedule::gpipe, PipelineSchedule::one_f_one_b})
      EXPECT_NEAR(bubble(s, p, m, 1), expected, 0.01 * expected) << "p=" << p << " m=" << m;
  }
}

TEST(PipelineBubble, InterleavedDividesItByTheChunks) {
  for (const auto& [p, m, v] : std::vector<std::array<int, 3>>{{4, 8, 2}, {4, 16, 4}, {8, 16, 2}}) {
    const double relative = (p - 1.0) / (v * m);  // of the ideal time
    const double expected = relative / (1.0 + relative);  // of the step
    EXPECT_NEAR(bubble(PipelineSchedule::interleaved_1f1b, p, m, v), expected, 0.01 * expected)
        << "p=" << p << " m=" << m << " v=" << v;
  }
}

}  // namespace
}  // namespace clustersim::models::build
