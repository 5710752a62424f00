// The CUDA plan interpreter: runs one rank's program of a Plan on a GPU, with the contract of the CPU
// Worker (worker.hpp) so that both backends are interchangeable behind run_rank / run_rank_cuda:
//  * tensors live in device memory from the device's stream-ordered pool, accounted by TensorRole
//    (DeviceAllocator: same peak/breakdown/timeline rules, replayed in the device's execution order),
//    cross-checked with the pool's high-water mark and cudaMemGetInfo;
//  * one CUDA stream per plan stream (communication streams at high priority); deps become event
//    waits (stream_plan.hpp), so communication really overlaps compute; one host thread enqueues a
//    whole step, then synchronises once;
//  * one NCCL communicator per plan group (id broadcast over the group's MPI communicator), plus one
//    per point-to-point tag; grouped send/recv runs;
//  * per-op spans from CUDA events, NVTX ranges per step and per phase named like the simulator's
//    phases (forward, backward, recompute, optimizer, communication, data, other);
//  * dynamic loss scaling: the device skips the update on a non-finite flag; the host-side
//    DynamicLossScaler (loss_scaler.hpp) backs off or grows between steps;
//  * an allocation the device cannot satisfy ends the run with CheckFailed naming the rank, the op,
//    the tensor and the bytes asked; a failing launch or library call names the rank, step and op.
// RunOptions::threading == sequential synchronises after every op (exact error attribution, no
// overlap); blas_threads does not apply. The device is local rank % visible devices, or the
// CLUSTERSIM_CUDA_DEVICE environment variable.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include <nlohmann/json.hpp>

#include "clustersim/executor/communicator.hpp"
#include "clustersim/executor/cuda/device_allocator.hpp"
#include "clustersim/executor/record.hpp"
#include "clustersim/executor/worker.hpp"
#include "clustersim/plan/plan.hpp"

namespace clustersim::executor::cuda {

class CudaWorker {
 public:
  // Validates the plan, selects the device, creates the communicators (collective over all ranks),
  // allocates and initialises the persistent tensors. Throws as Worker does.
  CudaWorker(const plan::Plan& plan, CommunicatorFactory& comms, RunOptions options);
  ~CudaWorker();
  CudaWorker(const CudaWorker&) = delete;
  CudaWorker& operator=(const CudaWorker&) = delete;

  StepReport run_step();

  std::int32_t rank() const;
  std::int32_t steps_run() const;
  double loss_scale() const;
  int device() const;
  const DeviceAllocator& allocator() const;
  // Contents of a live tensor as fp32 values (copied from the device after synchronising).
  std::vector<float> read_tensor(plan::TensorId id) const;
  void write_tensor(plan::TensorId id, const std::vector<float>& values);
  RankRecord record() const;
  // Marks the record finished, adds the device memory figures (resident = in use per cudaMemGetInfo,
  // resident peak = the pool's high-water mark) and writes the run directory's end record.
  RankRecord finish();
  // Device, driver/runtime/NCCL/cuBLASLt versions, pool and scratch high-water marks, GEMM routing
  // counts: merged into the measured trace's extra facts.
  nlohmann::json facts() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace clustersim::executor::cuda
