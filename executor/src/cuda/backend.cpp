// The CUDA backend's entry points (cuda/backend.hpp): device availability, run_rank_cuda (the CUDA
// twin of run_rank) and the kernel coverage checks. calibrate_cuda lives in calibrate.cpp.
#include "clustersim/executor/cuda/backend.hpp"

#include <cuda_runtime.h>

#include "clustersim/executor/cuda/worker.hpp"
#include "clustersim/plan/error.hpp"
#include "dispatch.hpp"

namespace clustersim::executor {

bool cuda_built() {
  return true;
}

bool cuda_available(std::string* why) {
  int count = 0;
  const cudaError_t e = cudaGetDeviceCount(&count);
  if (e != cudaSuccess) {
    (void)cudaGetLastError();
    if (why != nullptr)
      *why = std::string("no CUDA device: ") + cudaGetErrorName(e) + " (" + cudaGetErrorString(e) + ")";
    return false;
  }
  if (count <= 0) {
    if (why != nullptr) *why = "no CUDA device: the driver sees none (check CUDA_VISIBLE_DEVICES)";
    return false;
  }
  if (why != nullptr) why->clear();
  return true;
}

RunResult run_rank_cuda(const plan::Plan& plan, CommunicatorFactory& comms, const RunOptions& options) {
  cuda::CudaWorker worker(plan, comms, options);
  for (std::int32_t s = 0; s < options.steps; ++s) worker.run_step();
  RunResult result;
  result.record = worker.finish();
  for (const auto& s : result.record.steps) result.losses.push_back(s.mean_loss);
  const nlohmann::json facts = worker.facts();
  const std::vector<std::string> gathered = comms.world().gather_strings(to_json(result.record).dump(), 0);
  if (comms.world_rank() == 0) {
    std::vector<RankRecord> records;
    for (const auto& text : gathered) records.push_back(rank_record_from_json(nlohmann::json::parse(text)));
    TraceOptions topt;
    topt.scenario = options.scenario;
    topt.hardware = options.hardware;
    topt.backend = "cuda";
    topt.peak_flops_per_rank = options.peak_flops_per_rank;
    topt.capacity_bytes = options.capacity_bytes > 0 ? options.capacity_bytes
                                                     : facts.value("device_memory_bytes", std::int64_t{0});
    topt.timeline_max_samples = options.timeline_max_samples;
    topt.extra = {{"warmup_steps", options.warmup_steps},
                  {"threading", options.threading == StreamThreading::sequential ? "sequential" : "streams"},
                  {"communicators", std::string(comms.backend()) + " + nccl"},
                  {"seed", options.seed.value_or(plan.meta.seed)},
                  {"cuda", facts}};
    result.trace = build_measured_trace(plan, records, topt);
  }
  return result;
}

std::vector<std::string> cuda_elementwise_names() {
  return cuda::detail::CudaKernelRegistry::get().elementwise_names();
}

void check_cuda_kernels(const plan::Plan& plan) {
  const auto& registry = cuda::detail::CudaKernelRegistry::get();
  for (const auto& prog : plan.programs)
    for (const auto& op : prog.ops)
      registry.find(op, "program " + std::to_string(prog.id) + " op " + std::to_string(op.id) + " (" + op.name + ")");
}

}  // namespace clustersim::executor
