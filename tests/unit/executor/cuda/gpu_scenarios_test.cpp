// The GPU validation set (scenarios/validation/gpu-*.json) without a GPU: every scenario parses,
// builds a plan the CUDA backend has a kernel for at every op, and is predicted to fit one H100; the
// set covers fp32, bf16 and fp16 (dynamic loss scaling), gradient accumulation, full and selective
// recomputation, stored-probability attention with dropout, a Llama-style model, a ~350M GPT at
// sequence 1024 for the MFU target, and a model that fills most of the GPU's memory.
#include <gtest/gtest.h>

#include <filesystem>
#include <set>

#include "clustersim/engine/simulate.hpp"
#include "clustersim/executor/cuda/backend.hpp"
#include "clustersim/models/build.hpp"
#include "clustersim/models/scenario.hpp"
#include "clustersim/plan/json.hpp"

namespace clustersim {
namespace {

struct Loaded {
  std::string file;
  models::Scenario scenario;
  plan::Plan plan;
};

std::vector<Loaded> load_set() {
  std::vector<Loaded> out;
  const std::filesystem::path dir = std::filesystem::path(CLUSTERSIM_SOURCE_DIR) / "scenarios" / "validation";
  std::vector<std::filesystem::path> files;
  for (const auto& e : std::filesystem::directory_iterator(dir)) {
    const std::string name = e.path().filename().string();
    if (name.rfind("gpu-", 0) == 0 && e.path().extension() == ".json") files.push_back(e.path());
  }
  std::sort(files.begin(), files.end());
  for (const auto& f : files) {
    Loaded l;
    l.file = f.filename().string();
    l.scenario = models::parse_scenario(models::load_scenario_json(f.string()));
    l.plan = models::build_plan(l.scenario);
    out.push_back(std::move(l));
  }
  return out;
}

TEST(GpuValidationSet, EveryScenarioBuildsAPlanTheCudaBackendRuns) {
  const auto set = load_set();
  ASSERT_GE(set.size(), 8u);
  for (const auto& l : set) {
    SCOPED_TRACE(l.file);
    EXPECT_EQ(l.scenario.name + ".json", l.file) << "file named after the scenario";
    EXPECT_EQ(l.scenario.cluster.gpus(), 1);
    EXPECT_EQ(l.scenario.cluster.gpu.name, "H100-SXM-80GB");
    EXPECT_EQ(l.plan.world_size, 1);
    EXPECT_GE(l.scenario.training.steps, 10) << "enough steps for a warm-up and a stable mean";
    if (executor::cuda_built()) {
      EXPECT_NO_THROW(executor::check_cuda_kernels(l.plan));
    }
  }
}

TEST(GpuValidationSet, EveryScenarioIsPredictedToFitOneH100) {
  double fullest = 0.0;
  for (const auto& l : load_set()) {
    SCOPED_TRACE(l.file);
    engine::SimulationOptions options;
    options.record_wall_time = false;
    const plan::Trace t = engine::simulate(l.plan, models::hardware_of(l.scenario), options);
    EXPECT_TRUE(t.summary.fits);
    EXPECT_GT(t.summary.mfu, 0.0);
    fullest = std::max(fullest, static_cast<double>(t.summary.peak_memory_bytes) /
                                    static_cast<double>(t.summary.capacity_bytes));
  }
  EXPECT_GT(fullest, 0.7) << "one scenario fills most of the GPU's memory";
}

TEST(GpuValidationSet, CoversPrecisionsSchedulesAndTheMfuTarget) {
  std::set<Precision> precisions;
  bool accumulation = false, full_recompute = false, selective = false, stored_attention = false, llama = false,
       mfu = false, loss_scaling = false;
  for (const auto& l : load_set()) {
    const auto& tr = l.scenario.training;
    precisions.insert(tr.precision);
    accumulation |= l.scenario.accumulation_steps() > 1;
    full_recompute |= tr.recompute == Recompute::full;
    selective |= tr.recompute == Recompute::selective;
    stored_attention |= !tr.flash_attention && tr.dropout > 0.0;
    llama |= l.scenario.model.arch.family == models::ArchFamily::llama;
    loss_scaling |= l.plan.meta.dynamic_loss_scale;
    mfu |= l.scenario.model.arch.name == "gpt2-355m" && l.scenario.model.seq_len == 1024 &&
           tr.precision == Precision::bf16 && tr.recompute == Recompute::none && l.scenario.accumulation_steps() == 1;
  }
  EXPECT_TRUE(precisions.count(Precision::fp32) && precisions.count(Precision::bf16) &&
              precisions.count(Precision::fp16));
  EXPECT_TRUE(accumulation);
  EXPECT_TRUE(full_recompute);
  EXPECT_TRUE(selective);
  EXPECT_TRUE(stored_attention);
  EXPECT_TRUE(llama);
  EXPECT_TRUE(loss_scaling);
  EXPECT_TRUE(mfu) << "a ~350M GPT at sequence 1024 in bf16 for the MFU target";
}

}  // namespace
}  // namespace clustersim
