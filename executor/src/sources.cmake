# Explicit source list of the executor library (no globbing). CPU kernels always; the MPI
# communicator only when CLUSTERSIM_WITH_MPI.
set(CLUSTERSIM_EXECUTOR_SOURCES
  src/cpu/activation.cpp
  src/cpu/attention.cpp
  src/cpu/cast.cpp
  src/cpu/conv.cpp
  src/cpu/dropout.cpp
  src/cpu/embedding.cpp
  src/cpu/gemm.cpp
  src/cpu/misc.cpp
  src/cpu/norm.cpp
  src/cpu/optimizer.cpp
  src/cpu/pool.cpp
  src/cpu/softmax_xent.cpp
  src/runtime/allocator.cpp
  src/runtime/calibrate.cpp
  src/runtime/communicator_local.cpp
  src/runtime/data.cpp
  src/runtime/dispatch.cpp
  src/runtime/op_context.cpp
  src/runtime/record.cpp
  src/runtime/run_dir.cpp
  src/runtime/thread_priority.cpp
  src/runtime/worker.cpp
)
set(CLUSTERSIM_EXECUTOR_MPI_SOURCES src/runtime/communicator_mpi.cpp)
set(CLUSTERSIM_EXECUTOR_NO_MPI_SOURCES src/runtime/communicator_nompi.cpp)

# --- CUDA backend (src/cuda/) ---------------------------------------------------------------------
# Host-side logic of the CUDA backend is plain C++, always built and unit-tested without a device.
# The kernels (.cu) and the runtime that calls CUDA, cuBLASLt and NCCL are built with
# CLUSTERSIM_WITH_CUDA; otherwise a stub answers that the build has no CUDA backend.
set(CLUSTERSIM_EXECUTOR_CUDA_HOST_SOURCES
  src/cuda/comm_math.cpp
  src/cuda/device_allocator.cpp
  src/cuda/errors.cpp
  src/cuda/launch.cpp
  src/cuda/loss_scaler.cpp
  src/cuda/stream_plan.cpp
)
set(CLUSTERSIM_EXECUTOR_CUDA_SOURCES
  src/cuda/attention.cu
  src/cuda/conv_pool.cu
  src/cuda/elementwise.cu
  src/cuda/embedding.cu
  src/cuda/norm.cu
  src/cuda/optimizer.cu
  src/cuda/reduce.cu
  src/cuda/softmax_xent.cu
  src/cuda/backend.cpp
  src/cuda/calibrate.cpp
  src/cuda/device_info.cpp
  src/cuda/dispatch.cpp
  src/cuda/gemm.cpp
  src/cuda/nccl_comm.cpp
  src/cuda/worker.cpp
)
set(CLUSTERSIM_EXECUTOR_NO_CUDA_SOURCES src/cuda/backend_stub.cpp)
