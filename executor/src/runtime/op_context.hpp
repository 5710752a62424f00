// Internal: what an op's kernel dispatcher sees. OpContext gives typed access to the op's tensors,
// converting narrow float storage to fp32 on read and back on commit (one fp32 buffer per tensor id,
// so in-place ops see one buffer), and checking dtypes and sizes with errors that name the rank,
// op and slot. RankServices is the rest of the rank the dispatchers need (implemented by the worker).
// KernelRegistry maps op kinds and elementwise names to dispatchers.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <map>
#include <string>
#include <vector>

#include "clustersim/executor/communicator.hpp"
#include "clustersim/executor/data.hpp"
#include "clustersim/plan/plan.hpp"

namespace clustersim::executor::detail {

class RankServices {
 public:
  virtual ~RankServices() = default;
  virtual const plan::Plan& plan() const = 0;
  virtual std::int32_t rank() const = 0;
  virtual std::int32_t program() const = 0;
  virtual std::int32_t step() const = 0;
  // Storage of a tensor or view (resolved through group-indexed views); throws when not allocated.
  virtual std::byte* storage(plan::TensorId id) const = 0;
  virtual std::int32_t group_index(GroupKind kind) const = 0;
  virtual std::int32_t group_size(GroupKind kind) const = 0;
  virtual Communicator& comm(GroupKind kind) = 0;
  virtual double loss_scale() const = 0;  // 1 unless dynamic loss scaling
  virtual void add_losses(double sum, std::int64_t count) = 0;
  virtual void note_found_inf() = 0;
  virtual std::int64_t next_optimizer_step(plan::OpId op) = 0;  // 1-based count of applied updates
  virtual std::uint64_t dropout_key(const plan::Op& op) const = 0;
  virtual const DataSource& data() const = 0;
  virtual std::int64_t vocab() const = 0;    // full vocabulary of token models (0 when none)
  virtual std::int64_t classes() const = 0;  // classes of label models
  virtual std::int64_t num_microbatches() const = 0;
};

class OpContext {
 public:
  OpContext(RankServices& rank, const plan::Op& op);

  RankServices& rank;
  const plan::Op& op;
  template <typename P>
  const P& params() const {
    return std::get<P>(op.params);
  }

  std::size_t inputs() const { return op.inputs.size(); }
  std::size_t outputs() const { return op.outputs.size(); }
  const plan::Tensor& input(std::size_t i) const;
  const plan::Tensor& output(std::size_t i) const;
  static std::int64_t elements(const plan::Tensor& t);
  // Throws unless the op has at least (inputs, outputs) tensors; `lists` describes them for the message.
  void expect(std::size_t inputs, std::size_t outputs, const char* lists) const;

  // Float slots: any float storage dtype, seen as fp32. `elements` is how many the kernel touches.
  const float* in_f32(std::size_t i, std::int64_t elements);
  float* out_f32(std::size_t i, std::int64_t elements);
  // Statistic slots: must be stored as fp32.
  const float* in_stat(std::size_t i, std::int64_t elements);
  float* out_stat(std::size_t i, std::int64_t elements);
  const std::int32_t* in_i32(std::size_t i, std::int64_t elements);
  std::int32_t* out_i32(std::size_t i, std::int64_t elements);
  const std::uint8_t* in_u8(std::size_t i, std::int64_t elements);
  std::uint8_t* out_u8(std::size_t i, std::int64_t elements);
  std::byte* in_raw(std::size_t i);
  std::byte* out_raw(std::size_t i);

  // Writes converted outputs back to their storage. Called by the worker after the kernel.
  void commit();

  std::string where() const;  // "rank 3, op 17 (layer2.fc1)"
  [[noreturn]] void fail(const std::string& slot, const std::string& value, const std::string& allowed) const;

 private:
  struct Staged {
    plan::TensorId id = 0;
    std::vector<float> values;
    bool written = false;
  };
  float* f32(const plan::Tensor& t, std::int64_t elements, bool write, const std::string& slot, bool stat);
  void check_size(const plan::Tensor& t, std::int64_t elements, DType dtype, const std::string& slot) const;
  template <typename T>
  T* typed(const plan::Tensor& t, std::int64_t elements, DType dtype, const std::string& slot);
  std::string slot(const char* list, std::size_t i) const;

  std::deque<Staged> staged_;
};

using KernelFn = void (*)(OpContext&);

class KernelRegistry {
 public:
  // The CPU backend's kernels.
  static const KernelRegistry& cpu();
  // The dispatcher of `op`; InputError listing the known names for an unknown elementwise name.
  KernelFn find(const plan::Op& op, const std::string& where) const;
  std::vector<std::string> elementwise_names() const;

  std::array<KernelFn, 14> by_kind{};
  std::map<std::string, KernelFn, std::less<>> elementwise;
};

}  // namespace clustersim::executor::detail
