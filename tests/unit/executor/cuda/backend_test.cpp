// Tests for cuda/backend.hpp that need no device: availability is reported with a reason, the CUDA
// registry implements every elementwise name of the Plan (plan.hpp's list and `copy`), and a plan
// with an unknown name is refused before anything runs.
#include <gtest/gtest.h>

#include <algorithm>

#include "clustersim/executor/cuda/backend.hpp"
#include "clustersim/plan/error.hpp"

namespace clustersim::executor {
namespace {

TEST(CudaBackend, AvailabilityComesWithAReason) {
  std::string why = "unset";
  const bool available = cuda_available(&why);
  if (available) {
    EXPECT_TRUE(why.empty());
  } else {
    EXPECT_FALSE(why.empty());
    EXPECT_TRUE(why.rfind("no CUDA device", 0) == 0 || why.find("built without") != std::string::npos) << why;
  }
  EXPECT_EQ(cuda_available(nullptr), available);
  if (!cuda_built()) {
    EXPECT_FALSE(available);
  }
}

TEST(CudaBackend, ImplementsEveryElementwiseNameOfThePlan) {
  if (!cuda_built()) GTEST_SKIP() << "built without the CUDA backend";
  const std::vector<std::string> plan_names = {
      "residual_add", "add_inplace", "copy", "gelu", "gelu_backward", "relu", "relu_backward", "swiglu",
      "swiglu_backward", "dropout", "dropout_backward", "rope", "rope_backward", "bias_grad", "bias_add",
      "position_add", "position_add_backward", "xent_parallel_max", "xent_parallel_stats", "xent_parallel_loss",
      "xent_parallel_backward", "scale", "zero", "check_finite", "grad_norm_sq", "clip_by_norm", "maxpool",
      "maxpool_backward", "global_avgpool", "global_avgpool_backward"};
  const std::vector<std::string> names = cuda_elementwise_names();
  for (const auto& n : plan_names) EXPECT_TRUE(std::find(names.begin(), names.end(), n) != names.end()) << n;
  EXPECT_EQ(names.size(), plan_names.size());
}

TEST(CudaBackend, UnknownElementwiseNameIsAnInputError) {
  if (!cuda_built()) GTEST_SKIP() << "built without the CUDA backend";
  plan::Plan p;
  p.world_size = 1;
  p.programs.push_back({});
  p.programs[0].streams.push_back({0, "compute", StreamKind::compute});
  p.program_of_rank = {0};
  plan::Op op;
  op.name = "mystery";
  op.kind = OpKind::elementwise;
  plan::ElementwiseParams e;
  e.name = "softplus";
  op.params = e;
  p.programs[0].ops.push_back(op);
  try {
    check_cuda_kernels(p);
    FAIL() << "no exception";
  } catch (const InputError& err) {
    EXPECT_NE(std::string(err.what()).find("softplus"), std::string::npos) << err.what();
    EXPECT_NE(std::string(err.what()).find("\"gelu\""), std::string::npos) << "lists the known names";
  }
}

}  // namespace
}  // namespace clustersim::executor
