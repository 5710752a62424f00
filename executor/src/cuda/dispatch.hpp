// Internal: what a CUDA op dispatcher sees. CudaRank is the rest of the rank (implemented by the CUDA
// worker); CudaOpContext gives typed device pointers to the op's tensors with the same dtype and size
// checks, and the same error messages, as the CPU interpreter's OpContext (no staging: the kernels
// read and write every float storage dtype themselves); CudaKernelRegistry maps op kinds and
// elementwise names to dispatchers, with the CPU registry's names.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "clustersim/executor/cuda/device.hpp"
#include "clustersim/executor/cuda/gemm.hpp"
#include "clustersim/executor/cuda/reduce.hpp"
#include "clustersim/executor/data.hpp"
#include "clustersim/plan/plan.hpp"
#include "nccl_comm.hpp"

namespace clustersim::executor::cuda::detail {

class CudaRank {
 public:
  virtual ~CudaRank() = default;
  virtual const plan::Plan& plan() const = 0;
  virtual std::int32_t rank() const = 0;
  virtual std::int32_t program() const = 0;
  virtual std::int32_t step() const = 0;
  // Device storage of a tensor or view (group-indexed views resolved); throws when not allocated.
  virtual std::byte* storage(plan::TensorId id) const = 0;
  virtual std::int32_t group_index(GroupKind kind) const = 0;
  virtual std::int32_t group_size(GroupKind kind) const = 0;
  virtual DeviceCommunicator& comm(GroupKind kind) = 0;
  virtual double loss_scale() const = 0;
  virtual LossStats* device_stats() = 0;
  virtual std::int64_t* optimizer_counter(plan::OpId op) = 0;       // device, for skippable updates
  virtual std::int64_t next_host_optimizer_step(plan::OpId op) = 0;  // 1-based, for the others
  virtual std::uint64_t dropout_key(const plan::Op& op) const = 0;
  virtual const DataSource& data() const = 0;
  virtual std::int64_t vocab() const = 0;
  virtual std::int64_t classes() const = 0;
  virtual std::int64_t num_microbatches() const = 0;
  virtual GemmEngine& gemm() = 0;
  // Pinned host memory of `bytes` for output `slot` of `op`, kept for the run (io staging).
  virtual void* host_staging(plan::OpId op, std::size_t slot, std::size_t bytes) = 0;
};

class CudaOpContext {
 public:
  // `scratch` serves kernels; `staging` holds op-level buffers that must outlive kernel calls that
  // themselves take scratch (convolution columns, accumulating reduce-scatter).
  CudaOpContext(CudaRank& rank, const plan::Op& op, DeviceStream stream, DeviceScratch& scratch,
                DeviceScratch& staging);

  CudaRank& rank;
  const plan::Op& op;
  DeviceStream stream;
  DeviceScratch& scratch;
  DeviceScratch& staging;
  template <typename P>
  const P& params() const {
    return std::get<P>(op.params);
  }

  std::size_t inputs() const { return op.inputs.size(); }
  std::size_t outputs() const { return op.outputs.size(); }
  const plan::Tensor& input(std::size_t i) const;
  const plan::Tensor& output(std::size_t i) const;
  static std::int64_t elements(const plan::Tensor& t);
  void expect(std::size_t inputs, std::size_t outputs, const char* lists) const;

  ConstDeviceTensor in_f(std::size_t i, std::int64_t elements) const;
  DeviceTensor out_f(std::size_t i, std::int64_t elements) const;
  const float* in_stat(std::size_t i, std::int64_t elements) const;
  float* out_stat(std::size_t i, std::int64_t elements) const;
  const std::int32_t* in_i32(std::size_t i, std::int64_t elements) const;
  std::int32_t* out_i32(std::size_t i, std::int64_t elements) const;
  const std::uint8_t* in_u8(std::size_t i, std::int64_t elements) const;
  std::uint8_t* out_u8(std::size_t i, std::int64_t elements) const;
  std::byte* in_raw(std::size_t i) const;
  std::byte* out_raw(std::size_t i) const;

  std::string where() const;
  [[noreturn]] void fail(const std::string& slot, const std::string& value, const std::string& allowed) const;

 private:
  void check_float(const plan::Tensor& t, std::int64_t n, const std::string& slot, bool stat) const;
  void check_typed(const plan::Tensor& t, std::int64_t n, DType dtype, const std::string& slot) const;
  std::string slot(const char* list, std::size_t i) const;
};

using CudaKernelFn = void (*)(CudaOpContext&);

class CudaKernelRegistry {
 public:
  static const CudaKernelRegistry& get();
  // InputError listing the known names for an unknown elementwise name.
  CudaKernelFn find(const plan::Op& op, const std::string& where) const;
  std::vector<std::string> elementwise_names() const;

  std::array<CudaKernelFn, 14> by_kind{};
  std::map<std::string, CudaKernelFn, std::less<>> elementwise;
};

}  // namespace clustersim::executor::cuda::detail
