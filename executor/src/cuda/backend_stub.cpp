// The CUDA backend's entry points in a build without CUDA (cuda/backend.hpp): they say so.
#include "clustersim/executor/cuda/backend.hpp"

#include "clustersim/plan/error.hpp"

namespace clustersim::executor {

namespace {
const char* const kNoCuda =
    "this clustersim was built without the CUDA backend (CLUSTERSIM_WITH_CUDA=OFF: no CUDA toolkit, NCCL or MPI "
    "found at configure time)";
}

bool cuda_built() {
  return false;
}

bool cuda_available(std::string* why) {
  if (why != nullptr) *why = kNoCuda;
  return false;
}

RunResult run_rank_cuda(const plan::Plan&, CommunicatorFactory&, const RunOptions&) {
  throw Error(kNoCuda);
}

plan::CalibrationProfile calibrate_cuda(CommunicatorFactory&, const CalibrationOptions&) {
  throw Error(kNoCuda);
}

CalibrationOptions cuda_calibration_defaults() {
  return CalibrationOptions{};
}

std::vector<std::string> cuda_elementwise_names() {
  return {};
}

void check_cuda_kernels(const plan::Plan&) {
  throw Error(kNoCuda);
}

}  // namespace clustersim::executor
