// MLP and ResNet plans: structure, parameter memory and FLOPs against published figures.
#include <gtest/gtest.h>

#include "clustersim/models/build.hpp"
#include "clustersim/plan/json.hpp"
#include "test_scenarios.hpp"

namespace clustersim::models {
namespace {

using nlohmann::json;

json vision(const char* arch, int gpus, int zero, const char* precision) {
  return json{{"name", "vision"},
              {"cluster",
               {{"nodes", 1},
                {"gpus_per_node", gpus},
                {"gpu", "A100-80GB"},
                {"intra_node", "nvswitch-a100"},
                {"inter_node", {{"link", "ib-hdr-200"}, {"nics_per_node", gpus}, {"topology", "rail-fat-tree"}}}}},
              {"model", {{"architecture", arch}}},
              {"training",
               {{"global_batch", 8 * gpus}, {"micro_batch", 4}, {"precision", precision}, {"zero_stage", zero},
                {"optimizer", "sgd"}}},
              {"parallelism", {{"dp", gpus}}}};
}

double persistent_bytes(const plan::Plan& p, TensorRole role) {
  double b = 0;
  for (auto t : p.programs[0].persistent)
    if (p.tensors[static_cast<std::size_t>(t)].role == role) b += static_cast<double>(p.tensors[static_cast<std::size_t>(t)].bytes);
  return b;
}

TEST(VisionPlan, ResNet50HoldsItsParametersAndFlops) {
  const Scenario sc = parse_scenario(vision("resnet-50", 1, 0, "fp32"));
  const plan::Plan p = testing::build_validated(sc);
  // torchvision resnet50: 25,557,032 parameters (fp32 weights, padding to 8 elements per bucket).
  EXPECT_NEAR(persistent_bytes(p, TensorRole::weight) / 4, 25557032.0, 25557032.0 * 1e-3);
  // torchvision reports 4.09 GMACs per 224x224 image for ResNet50_Weights.IMAGENET1K_V1 (v1.5);
  // model FLOPs per step are 3 x 2 x MACs per sample x global batch.
  const double macs = p.meta.model_flops_per_step / 3.0 / 2.0 / static_cast<double>(sc.training.global_batch);
  EXPECT_NEAR(macs, 4.09e9, 0.03 * 4.09e9);
}

TEST(VisionPlan, ValidatesWithDataParallelismAndZero) {
  for (const char* arch : {"resnet-50", "mlp"})
    for (int zero : {0, 1, 2, 3})
      for (const char* precision : {"fp32", "bf16", "fp16"}) {
        SCOPED_TRACE(std::string(arch) + " zero " + std::to_string(zero) + " " + precision);
        plan::Plan p;
        ASSERT_NO_THROW(p = testing::build_validated(parse_scenario(vision(arch, 4, zero, precision))));
        EXPECT_EQ(p.world_size, 4);
        EXPECT_EQ(p.meta.tokens_per_step, 0);
        EXPECT_GT(p.meta.model_flops_per_step, 0);
      }
}

TEST(VisionPlan, MlpForwardFlopsAreTwicePerWeight) {
  const Scenario sc = parse_scenario(vision("mlp", 1, 0, "fp32"));
  const plan::Plan p = testing::build_validated(sc);
  double macs = 0;
  const auto& d = sc.model.arch.mlp_dims;
  for (std::size_t i = 0; i + 1 < d.size(); ++i) macs += static_cast<double>(d[i] * d[i + 1]);
  EXPECT_DOUBLE_EQ(p.meta.model_flops_per_step, 3.0 * 2.0 * macs * static_cast<double>(sc.training.global_batch));
}

}  // namespace
}  // namespace clustersim::models
