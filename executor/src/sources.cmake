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
  src/runtime/worker.cpp
)
set(CLUSTERSIM_EXECUTOR_MPI_SOURCES src/runtime/communicator_mpi.cpp)
set(CLUSTERSIM_EXECUTOR_NO_MPI_SOURCES src/runtime/communicator_nompi.cpp)
