// Entry points of the CUDA backend for `clustersim run|calibrate|validate --backend cuda` (and tests).
// This header includes no CUDA header and exists in every build; in a build without CUDA
// (CLUSTERSIM_WITH_CUDA=OFF) cuda_available() says so and the other functions throw Error.
//
//   cuda_available   whether a device can be used, and if not why (no driver, no device, ...)
//   run_rank_cuda    run_rank (worker.hpp) on the GPU: this rank's steps through a CudaWorker, then
//                    every rank's record gathered at world rank 0 into the measured trace
//                    (backend "cuda", the device and library facts in Trace::extra)
//   calibrate_cuda   calibrate_cpu (calibrate.hpp) on the GPU: cuBLASLt GEMMs over a shape grid per
//                    dtype (fp8 when the device has it), attention shapes (flash and not, forward and
//                    backward), memory-bound ops by size (the "memory" key is device bandwidth), NCCL
//                    collectives by size and group size, NCCL point-to-point, the GEMM slowdown while
//                    communication runs, and the launch overhead. comm_math.hpp turns the collective
//                    samples into nccl-tests' algbw/busbw.
#pragma once

#include <string>
#include <vector>

#include "clustersim/executor/calibrate.hpp"
#include "clustersim/executor/communicator.hpp"
#include "clustersim/executor/worker.hpp"
#include "clustersim/plan/plan.hpp"
#include "clustersim/plan/profile.hpp"

namespace clustersim::executor {

// True when the library was built with the CUDA backend.
bool cuda_built();

// True when a CUDA device is usable by this process; otherwise false and, when `why` is not null, a
// sentence saying what is missing ("no CUDA device: ...", "built without CUDA ...").
bool cuda_available(std::string* why = nullptr);

// Runs options.steps steps of this rank's program on its GPU and gathers the measured trace at world
// rank 0 (RunResult::trace). Collective over every rank of `mpi_world`; throws like run_rank.
RunResult run_rank_cuda(const plan::Plan& plan, CommunicatorFactory& mpi_world, const RunOptions& options);

// Measures a calibration profile (backend "cuda") on every rank's device at once; every rank returns
// the same profile. Collective over every rank of `comms`.
plan::CalibrationProfile calibrate_cuda(CommunicatorFactory& comms, const CalibrationOptions& options);

// Sizes for a GPU: GEMMs from 256 to 8192 in fp32, tf32, bf16, fp16 and fp8_e4m3, attention up to
// 4096 tokens, memory ops from 1 MiB to 1 GiB, collectives from 64 KiB to 1 GiB.
CalibrationOptions cuda_calibration_defaults();

// The elementwise names the CUDA backend implements (empty without CUDA).
std::vector<std::string> cuda_elementwise_names();

// Throws InputError naming the first op of `plan` the CUDA backend has no kernel for.
void check_cuda_kernels(const plan::Plan& plan);

}  // namespace clustersim::executor
